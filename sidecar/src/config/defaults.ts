/**
 * The one place where defaults are applied to a SidecarConfig. Everything downstream reads a
 * `ResolvedConfig`: every optional section present, listeners complete, the whole object deep
 * frozen so that no subsystem can change the config in force behind the store's back.
 */
import type {
  SidecarCircuitBreaker,
  SidecarConfig,
  SidecarFault,
  SidecarRateLimit,
  SidecarSaga,
} from '@palisade/crds';

/** Ports from API.md; each is overridable in `listeners`. */
export const DEFAULT_LISTENERS = Object.freeze({
  admin: 15000,
  inbound: 15006,
  outbound: 15001,
  raft: 15010,
});

/** The admin/app API binds here and nowhere else (API.md: loopback only). */
export const ADMIN_HOST = '127.0.0.1';

/** Log level when the document names none. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** Log levels a SidecarConfig may ask for. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Listener ports with defaults filled in, plus the admin bind address. */
export interface ResolvedListeners {
  readonly adminHost: typeof ADMIN_HOST;
  readonly admin: number;
  readonly inbound: number;
  readonly outbound: number;
  readonly raft: number;
}

/** Tracing settings with defaults filled in: absent means off (`sampleRatio` 0). */
export interface ResolvedTracing {
  readonly otlpEndpoint?: string;
  readonly sampleRatio: number;
}

/**
 * A validated SidecarConfig with every default applied, deep frozen. This is the type every
 * subsystem compiles from.
 */
export type ResolvedConfig = Readonly<
  Omit<
    SidecarConfig,
    'listeners' | 'rateLimits' | 'circuitBreakers' | 'faults' | 'sagas' | 'tracing' | 'logLevel'
  > & {
    listeners: ResolvedListeners;
    rateLimits: readonly SidecarRateLimit[];
    circuitBreakers: readonly SidecarCircuitBreaker[];
    faults: readonly SidecarFault[];
    sagas: readonly SidecarSaga[];
    tracing: ResolvedTracing;
    logLevel: LogLevel;
  }
>;

/** Applies defaults to a document that already passed validation; returns a frozen copy. */
export function resolveConfig(config: SidecarConfig): ResolvedConfig {
  const copy = structuredClone(config);
  const resolved = {
    ...copy,
    listeners: {
      adminHost: ADMIN_HOST,
      admin: copy.listeners?.admin ?? DEFAULT_LISTENERS.admin,
      inbound: copy.listeners?.inbound ?? DEFAULT_LISTENERS.inbound,
      outbound: copy.listeners?.outbound ?? DEFAULT_LISTENERS.outbound,
      raft: copy.listeners?.raft ?? DEFAULT_LISTENERS.raft,
    },
    rateLimits: copy.rateLimits ?? [],
    circuitBreakers: copy.circuitBreakers ?? [],
    faults: copy.faults ?? [],
    sagas: copy.sagas ?? [],
    tracing: copy.tracing ?? { sampleRatio: 0 },
    logLevel: copy.logLevel ?? DEFAULT_LOG_LEVEL,
  } satisfies ResolvedConfig;
  return deepFreeze(resolved);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
