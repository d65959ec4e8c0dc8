/**
 * Named health checks behind `/readyz` and `/healthz`. Subsystems register their own (Raft adds
 * `raft`); each run is bounded by a timeout, concurrent probes of one check share one run, and
 * the last failure is kept for `/healthz`.
 */

/** What a check resolves with: nothing, or a short detail shown on `/healthz`. */
export type CheckFunction = () => Promise<string | void> | string | void;

/** A check to register. */
export interface HealthCheckDefinition {
  /** Unique, e.g. `config`, `app`, `raft`. */
  readonly name: string;
  readonly check: CheckFunction;
  /** Whether `/readyz` waits for it (default true); `/healthz` always runs every check. */
  readonly readiness?: boolean;
  /** A run longer than this fails (default 1000 ms). */
  readonly timeoutMs?: number;
}

/** The outcome of one check, as `/healthz` shows it. */
export interface CheckResult {
  readonly name: string;
  readonly status: 'pass' | 'fail';
  readonly readiness: boolean;
  readonly durationMs: number;
  readonly detail?: string;
  /** This run's failure. */
  readonly error?: string;
  /** The most recent failure of this check, even if it passes now. */
  readonly lastError?: { readonly message: string; readonly at: string };
}

interface Entry {
  readonly definition: HealthCheckDefinition;
  inFlight: Promise<CheckResult> | null;
  lastError: { message: string; at: string } | undefined;
}

/** Options of `HealthChecks`. */
export interface HealthChecksOptions {
  /** Monotonic milliseconds for durations. Default `performance.now`. */
  readonly monotonicNow?: () => number;
  /** Wall-clock milliseconds for `lastError.at`. Default `Date.now`. */
  readonly now?: () => number;
}

/** The registry of checks. */
export class HealthChecks {
  private readonly entries = new Map<string, Entry>();
  private readonly monotonicNow: () => number;
  private readonly now: () => number;

  constructor(options: HealthChecksOptions = {}) {
    this.monotonicNow = options.monotonicNow ?? (() => performance.now());
    this.now = options.now ?? Date.now;
  }

  /** Adds a check; throws if the name is taken. Returns the function that removes it. */
  register(definition: HealthCheckDefinition): () => void {
    if (this.entries.has(definition.name)) {
      throw new Error(`health check "${definition.name}" is already registered`);
    }
    this.entries.set(definition.name, { definition, inFlight: null, lastError: undefined });
    return () => this.entries.delete(definition.name);
  }

  /** Names of the registered checks, in registration order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Runs the readiness checks (`readiness`) or all of them, concurrently. */
  run(which: 'readiness' | 'all'): Promise<CheckResult[]> {
    const runs: Promise<CheckResult>[] = [];
    for (const entry of this.entries.values()) {
      if (which === 'all' || (entry.definition.readiness ?? true)) runs.push(this.runOne(entry));
    }
    return Promise.all(runs);
  }

  private runOne(entry: Entry): Promise<CheckResult> {
    entry.inFlight ??= this.execute(entry).finally(() => {
      entry.inFlight = null;
    });
    return entry.inFlight;
  }

  private async execute(entry: Entry): Promise<CheckResult> {
    const { name, check } = entry.definition;
    const readiness = entry.definition.readiness ?? true;
    const timeoutMs = entry.definition.timeoutMs ?? 1000;
    const start = this.monotonicNow();
    let timer: NodeJS.Timeout | undefined;
    try {
      const detail = await Promise.race([
        Promise.resolve().then(check),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return {
        name,
        status: 'pass',
        readiness,
        durationMs: round(this.monotonicNow() - start),
        ...(typeof detail === 'string' ? { detail } : {}),
        ...(entry.lastError !== undefined ? { lastError: entry.lastError } : {}),
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      entry.lastError = { message, at: new Date(this.now()).toISOString() };
      return {
        name,
        status: 'fail',
        readiness,
        durationMs: round(this.monotonicNow() - start),
        error: message,
        lastError: entry.lastError,
      };
    } finally {
      clearTimeout(timer);
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
