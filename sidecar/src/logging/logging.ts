/**
 * Structured JSON logs (pino). One root logger per process, one child per component
 * (`{"component":"config"}`), all following the level of the config in force.
 *
 * Contract for the hot path: nothing is logged per request at `info` or above in normal
 * operation; per-request detail is `debug` and must be guarded with
 * `if (log.isLevelEnabled('debug'))` so that no object is built when it is off.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { redactUrl } from '../config/redact.js';

export type { Logger } from 'pino';

/** Levels the sidecar uses (SidecarConfig `logLevel`), plus `silent` for tests and tools. */
export type LogLevelName = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * Paths pino redacts before a line is written: credentials in headers wherever a request or
 * response is logged, and secrets in config sections that might be logged whole. URLs keep
 * everything but their password; other values become `[REDACTED]`.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'redis.url',
  'config.redis.url',
  'rateLimits[*].redis.url',
  'config.rateLimits[*].redis.url',
  '*.password',
  '*.token',
  '*.secret',
  'password',
  'token',
  'secret',
];

/** Options of `createLogging`. */
export interface LoggingOptions {
  readonly level: LogLevelName;
  /** Where lines go; default stdout. Tests pass a stream. */
  readonly destination?: DestinationStream;
  /** Fields on every line. Default `{ service: 'palisade-sidecar' }`. */
  readonly base?: Record<string, unknown>;
}

/** The process's loggers. */
export interface Logging {
  readonly root: Logger;
  /** The logger of a component (`config`, `admin`, `proxy`, `raft`, …), cached by name. */
  child(component: string): Logger;
  /** Changes the level of the root and every component logger (config reload). */
  setLevel(level: LogLevelName): void;
}

/** Creates the root logger and its component children. */
export function createLogging(options: LoggingOptions): Logging {
  const root = pino(
    {
      level: options.level,
      base: options.base ?? { service: 'palisade-sidecar' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [...REDACT_PATHS],
        censor: (value: unknown) =>
          typeof value === 'string' && value.includes('://') ? redactUrl(value) : '[REDACTED]',
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
  const children = new Map<string, Logger>();
  return {
    root,
    child(component) {
      let logger = children.get(component);
      if (logger === undefined) {
        logger = root.child({ component });
        children.set(component, logger);
      }
      return logger;
    },
    setLevel(level) {
      root.level = level;
      // pino children copy the level when created; later root changes do not reach them.
      for (const logger of children.values()) logger.level = level;
    },
  };
}
