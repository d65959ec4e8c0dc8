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
} from '@palisade/crds/runtime';

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
  const resolved = {
    ...config,
    listeners: {
      adminHost: ADMIN_HOST,
      admin: config.listeners?.admin ?? DEFAULT_LISTENERS.admin,
      inbound: config.listeners?.inbound ?? DEFAULT_LISTENERS.inbound,
      outbound: config.listeners?.outbound ?? DEFAULT_LISTENERS.outbound,
      raft: config.listeners?.raft ?? DEFAULT_LISTENERS.raft,
    },
    rateLimits: config.rateLimits ?? [],
    circuitBreakers: config.circuitBreakers ?? [],
    faults: config.faults ?? [],
    sagas: config.sagas ?? [],
    tracing: config.tracing ?? { sampleRatio: 0 },
    logLevel: config.logLevel ?? DEFAULT_LOG_LEVEL,
  } satisfies ResolvedConfig;
  return frozenCopy(resolved);
}

/**
 * A deep copy of a validated document (plain JSON data), frozen as it is built: one walk instead
 * of `structuredClone` and then freezing, which was most of a reload's CPU for a config carrying
 * a thousand Raft peers (decision 0008). The caller's object is left as it was.
 */
function frozenCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value))
    copy[key] = frozenCopy((value as Record<string, unknown>)[key]);
  return Object.freeze(copy) as T;
}
