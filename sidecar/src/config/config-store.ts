/**
 * The config in force. A reload is a two-phase commit across subsystems:
 *
 * 1. validate the candidate (schema, cross-field rules, defaults; a Raft peer list equal to the
 *    one in force is not checked again, see `validateConfigDocument`);
 * 2. diff it against the config in force, section by section; identical content (same `version`,
 *    no section changed) is a no-op;
 * 3. `prepare` every registered applier in registration order: each compiles its part (route
 *    tables, filter instances, …) without touching anything live, and returns a commit;
 * 4. only if every prepare succeeded: run every commit (each swaps one reference and must not
 *    throw), swap the store's snapshot, then notify subscribers.
 *
 * If validation or any prepare fails, nothing is swapped: the last good config stays in force,
 * and the failure is recorded (`lastFailure`, for /healthz), counted (metrics) and logged.
 * Reloads are serialized: `apply` calls queue behind each other, never interleave.
 */
import type { Logger } from 'pino';
import type { ResolvedConfig } from './defaults.js';
import { diffConfig, isUnchanged, type ConfigChange } from './diff.js';
import { ConfigError } from './errors.js';
import { validateConfigDocument } from './load-config.js';

/** One version of the config, as it was put in force. Immutable. */
export interface ConfigSnapshot {
  readonly config: ResolvedConfig;
  /** The document's own `version` field. */
  readonly version: string;
  /** Local counter: 1 for the initial config, +1 per applied reload. */
  readonly generation: number;
  /** Wall-clock milliseconds when it was put in force. */
  readonly appliedAt: number;
}

/** A reload that was refused; the previous config stayed in force. */
export interface ConfigFailure {
  readonly error: ConfigError;
  /** Wall-clock milliseconds. */
  readonly at: number;
  /** Version in force when it was refused. */
  readonly keptVersion: string;
}

/** What `apply` did. It never throws for a bad candidate: refusal is a result. */
export type ApplyResult =
  | { readonly status: 'applied'; readonly snapshot: ConfigSnapshot; readonly change: ConfigChange }
  | { readonly status: 'unchanged'; readonly snapshot: ConfigSnapshot }
  | { readonly status: 'rejected'; readonly error: ConfigError; readonly snapshot: ConfigSnapshot };

/** Swaps a prepared part in. Runs only after every applier prepared; must not throw. */
export type ConfigCommit = () => void;

/**
 * A subsystem's share of a reload. `prepare` compiles from `next` (it may throw, refusing the
 * whole reload) and must not change live state; it returns the commit that will swap the
 * compiled part in, or nothing when `change` does not concern it.
 */
export interface ConfigApplier {
  /** Named in errors and logs, e.g. `rate-limits`. */
  readonly name: string;
  prepare(
    next: ResolvedConfig,
    change: ConfigChange,
    previous: ResolvedConfig,
  ): ConfigCommit | void | Promise<ConfigCommit | void>;
}

/** Called after a new snapshot is in force. */
export type ConfigListener = (snapshot: ConfigSnapshot, change: ConfigChange) => void;

/** Where the store reports reload outcomes; `Metrics.config` implements it. */
export interface ConfigReloadRecorder {
  recordApplied(version: string, atMs: number): void;
  recordRejected(code: string): void;
}

/** Options of `ConfigStore`. */
export interface ConfigStoreOptions {
  /** The config loaded at start (already validated and resolved). */
  readonly initial: ResolvedConfig;
  readonly logger?: Logger;
  readonly recorder?: ConfigReloadRecorder;
  /** Wall clock in milliseconds (timestamps for /healthz and metrics). Default `Date.now`. */
  readonly now?: () => number;
}

/** Reload status for /healthz. */
export interface ConfigStatus {
  readonly version: string;
  readonly generation: number;
  /** ISO time the config in force was applied. */
  readonly appliedAt: string;
  /**
   * Outcome of the latest reload attempt: `applied`, `unchanged` (content equal to what is in
   * force, e.g. a bad edit reverted) or `rejected`; `null` before any attempt.
   */
  readonly lastReload: { readonly status: ApplyResult['status']; readonly at: string } | null;
  /** The last refused reload, if any since start (it stays listed after later successes). */
  readonly lastFailure: {
    readonly code: string;
    readonly message: string;
    readonly at: string;
    readonly keptVersion: string;
  } | null;
}

/** Holds the config in force and applies reloads atomically (see the module comment). */
export class ConfigStore {
  private snapshot: ConfigSnapshot;
  private failure: ConfigFailure | null = null;
  private lastAttempt: { status: ApplyResult['status']; at: number } | null = null;
  private readonly appliers: ConfigApplier[] = [];
  private readonly listeners = new Set<ConfigListener>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly logger: Logger | undefined;
  private readonly recorder: ConfigReloadRecorder | undefined;
  private readonly now: () => number;

  constructor(options: ConfigStoreOptions) {
    this.logger = options.logger;
    this.recorder = options.recorder;
    this.now = options.now ?? Date.now;
    const appliedAt = this.now();
    this.snapshot = Object.freeze({
      config: options.initial,
      version: options.initial.version,
      generation: 1,
      appliedAt,
    });
    this.recorder?.recordApplied(this.snapshot.version, appliedAt);
  }

  /** The snapshot in force. Cheap: a field read. */
  current(): ConfigSnapshot {
    return this.snapshot;
  }

  /** The config in force. */
  get config(): ResolvedConfig {
    return this.snapshot.config;
  }

  /** Whether the latest reload attempt was refused (the config in force is then older). */
  lastReloadRejected(): boolean {
    return this.lastAttempt?.status === 'rejected';
  }

  /** The last refused reload since start, or `null`. */
  lastFailure(): ConfigFailure | null {
    return this.failure;
  }

  /** Adds a subsystem to every later reload, after those already registered. */
  register(applier: ConfigApplier): () => void {
    this.appliers.push(applier);
    return () => {
      const index = this.appliers.indexOf(applier);
      if (index >= 0) this.appliers.splice(index, 1);
    };
  }

  /** Calls `listener` after each applied reload. Returns the unsubscribe function. */
  subscribe(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Validates `candidate` (a parsed document) and puts it in force if every applier accepts
   * it. Serialized with other calls. Resolves with what happened; never rejects.
   */
  apply(candidate: unknown, source?: string): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(candidate, source));
    this.queue = run;
    return run;
  }

  /**
   * Records a failure that happened before a candidate existed (unreadable or unparsable file),
   * exactly as a refused `apply` is recorded.
   */
  reject(error: ConfigError): ApplyResult {
    this.recordFailure(error);
    return { status: 'rejected', error, snapshot: this.snapshot };
  }

  /** Reload status for /healthz. */
  status(): ConfigStatus {
    const failure = this.failure;
    const attempt = this.lastAttempt;
    return {
      version: this.snapshot.version,
      generation: this.snapshot.generation,
      appliedAt: new Date(this.snapshot.appliedAt).toISOString(),
      lastReload:
        attempt === null
          ? null
          : { status: attempt.status, at: new Date(attempt.at).toISOString() },
      lastFailure:
        failure === null
          ? null
          : {
              code: failure.error.code,
              message: failure.error.message,
              at: new Date(failure.at).toISOString(),
              keptVersion: failure.keptVersion,
            },
    };
  }

  private async applyNow(candidate: unknown, source?: string): Promise<ApplyResult> {
    let next: ResolvedConfig;
    try {
      next = validateConfigDocument(candidate, source, this.snapshot.config);
    } catch (error) {
      return this.reject(asConfigError(error, 'CONFIG_INVALID', source));
    }
    const previous = this.snapshot;
    const change = diffConfig(previous.config, next);
    if (isUnchanged(change)) {
      this.lastAttempt = { status: 'unchanged', at: this.now() };
      return { status: 'unchanged', snapshot: previous };
    }

    const commits: { name: string; commit: ConfigCommit }[] = [];
    for (const applier of [...this.appliers]) {
      try {
        const commit = await applier.prepare(next, change, previous.config);
        if (typeof commit === 'function') commits.push({ name: applier.name, commit });
      } catch (cause) {
        const error = new ConfigError(
          'CONFIG_APPLY_FAILED',
          `${source ?? 'config'} version ${next.version} refused by ${applier.name}: ${(cause as Error).message}`,
          [],
          { cause, source },
        );
        return this.reject(error);
      }
    }
    for (const { name, commit } of commits) {
      try {
        commit();
      } catch (cause) {
        // A commit broke its contract; the others are already in, so the swap goes ahead.
        this.logger?.error(
          { err: cause, applier: name, version: next.version },
          'config commit threw; continuing the swap',
        );
      }
    }
    const snapshot: ConfigSnapshot = Object.freeze({
      config: next,
      version: next.version,
      generation: previous.generation + 1,
      appliedAt: this.now(),
    });
    this.snapshot = snapshot;
    this.lastAttempt = { status: 'applied', at: snapshot.appliedAt };
    this.recorder?.recordApplied(snapshot.version, snapshot.appliedAt);
    this.logger?.info(
      {
        version: snapshot.version,
        previousVersion: previous.version,
        generation: snapshot.generation,
        sections: change.sections,
        source,
      },
      'config applied',
    );
    if (change.sections.includes('listeners')) {
      this.logger?.warn(
        { listeners: next.listeners },
        'listener ports changed: they take effect at the next restart',
      );
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(snapshot, change);
      } catch (err) {
        this.logger?.error({ err }, 'config listener threw');
      }
    }
    return { status: 'applied', snapshot, change };
  }

  private recordFailure(error: ConfigError): void {
    this.failure = { error, at: this.now(), keptVersion: this.snapshot.version };
    this.lastAttempt = { status: 'rejected', at: this.failure.at };
    this.recorder?.recordRejected(error.code);
    this.logger?.error(
      {
        code: error.code,
        errors: error.errors,
        source: error.source,
        keptVersion: this.snapshot.version,
        err: error.cause,
      },
      `config reload refused, keeping version ${this.snapshot.version}: ${error.message}`,
    );
  }
}

function asConfigError(error: unknown, code: ConfigError['code'], source?: string): ConfigError {
  if (error instanceof ConfigError) return error;
  return new ConfigError(code, (error as Error).message ?? String(error), [], {
    cause: error,
    source,
  });
}
