/**
 * Runs this sidecar's Raft member (leases) and sagas for as long as the config in force has a
 * `raft` section, whenever that section arrives: at start, or with any later config. In a pod
 * the first config often has none (the operator lists a pod as a peer once it has an address),
 * and the group credential may not be mounted yet, so a section that cannot start (secret file
 * missing, id not among the peers, transport port in use) never stops the proxy: the reason is
 * logged and shown by the `raft` health check, and the start is retried with a bounded backoff,
 * at once when a new config arrives. A config without the section stops the member cleanly.
 *
 * Level-based: every config and every timer only records what is wanted and wakes one serial
 * loop that compares it with what runs. The Raft and saga modules are loaded on the first start
 * only, so a sidecar outside any group does not carry them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { HealthCheckDefinition, RawRequestHandler } from '../admin/index.js';
import type { ConfigApplier, ConfigCommit, ResolvedConfig } from '../config/index.js';
import { diffConfig } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import type { Metrics } from '../metrics/index.js';
import type { RaftNodeError, StartedRaftNode } from '../raft-node/index.js';
import type { StartedSagas } from '../sagas/index.js';
import type { Tracing } from '../tracing/index.js';

/** First retry after a failed start, ms; doubles per failure up to `RAFT_RETRY_MAX_MS`. */
export const RAFT_RETRY_FIRST_MS = 1000;
/** Upper bound of the retry delay, ms: a credential mounted late is picked up within this. */
export const RAFT_RETRY_MAX_MS = 30_000;

/** Pure: the delay before retry number `failures` (1 = after the first failure). */
export function raftRetryDelayMs(failures: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 16);
  return Math.min(RAFT_RETRY_FIRST_MS * 2 ** exponent, RAFT_RETRY_MAX_MS);
}

/** Options of {@link RaftGroupRunner}. */
export interface RaftGroupRunnerOptions {
  /** Whether `/readyz` waits for "raft joined" (see docs/sidecar.md: not in Kubernetes mode). */
  readonly readiness: boolean;
  /** Where the `raft` health check is registered while a section is wanted. */
  readonly checks: { register(definition: HealthCheckDefinition): () => void };
  readonly tracing: () => Tracing;
  readonly metrics?: Metrics;
  /** The Raft member's logger (start, stop, retries). */
  readonly logger?: Logger;
  readonly sagasLogger?: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** The member stopped on a storage failure: the process should exit and replay its log. */
  readonly onFatal: (error: RaftNodeError) => void;
}

/** What the runner is doing, as the health check reports it. */
type RunnerState =
  | { readonly kind: 'off' }
  | { readonly kind: 'starting' }
  | { readonly kind: 'running'; readonly member: RunningMember }
  | { readonly kind: 'waiting'; readonly reason: string; readonly retryAt: number };

/** One started member: the node, its sagas and the appliers that follow reloads. */
interface RunningMember {
  readonly raft: StartedRaftNode;
  readonly sagas: StartedSagas;
  readonly appliers: readonly ConfigApplier[];
  /** The settings a restart would change (see `restartKey`). */
  readonly key: string;
  /** The config it was started from, or last brought up to date with. */
  config: ResolvedConfig;
}

/** Settings read only at start: a change restarts the member. */
function restartKey(config: ResolvedConfig): string {
  const raft = config.raft;
  return JSON.stringify([
    raft?.group,
    raft?.id,
    raft?.dataDir,
    raft?.secretFile,
    config.listeners.raft,
  ]);
}

/** Starts, follows and stops the Raft member and sagas as the config asks (module comment). */
export class RaftGroupRunner {
  private readonly options: RaftGroupRunnerOptions;
  private wanted: ResolvedConfig | undefined;
  private state: RunnerState = { kind: 'off' };
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> = Promise.resolve();
  private dirty = false;
  private closed = false;
  private removeCheck: (() => void) | undefined;
  /** Data directories used in this process, with the group member that owns each one. */
  private readonly dataDirOwners = new Map<string, string>();

  constructor(options: RaftGroupRunnerOptions) {
    this.options = options;
  }

  /** Follows `config` (the one in force at start); resolves once the first attempt is over. */
  start(config: ResolvedConfig): Promise<void> {
    this.want(config);
    return this.loop;
  }

  /**
   * The config-store applier: reloads reach the running member (peers, partition, sagas —
   * a saga section it cannot compile refuses the reload), then the runner follows the new
   * config (start, restart, stop).
   */
  readonly applier: ConfigApplier = {
    name: 'raft-group',
    prepare: async (next, change, previous) => {
      const commits: ConfigCommit[] = [];
      const state = this.state;
      const running =
        state.kind === 'running' && restartKey(next) === state.member.key && next.raft !== undefined
          ? state.member
          : undefined;
      for (const applier of running?.appliers ?? []) {
        const commit = await applier.prepare(next, change, previous);
        if (commit) commits.push(commit);
      }
      return () => {
        for (const commit of commits) commit();
        if (running !== undefined) running.config = next;
        this.want(next);
      };
    },
  };

  /** Mount at `/v1`: leases, `/raft` and sagas of the running member, else a 503 that says why. */
  readonly router: RequestHandler = (req, res, next) => {
    if (this.state.kind === 'running') {
      const { raft, sagas } = this.state.member;
      // `next('router')` leaves a router: the sagas' routes come next, as when both were mounted.
      raft.router(req, res, (error?: unknown) =>
        error === undefined || error === 'router' ? sagas.router(req, res, next) : next(error),
      );
      return;
    }
    if (!/^\/(leases|raft|sagas)(\/|$)/.test(req.path)) {
      next();
      return;
    }
    this.unavailable(req, res);
  };

  /** `admin.intercept(...)`: the member's lease and saga fast paths while it runs. */
  readonly httpHandler: RawRequestHandler = (req: IncomingMessage, res: ServerResponse) =>
    this.state.kind === 'running' &&
    (this.state.member.raft.httpHandler(req, res) || this.state.member.sagas.httpHandler(req, res));

  /** Stops retrying and stops the member. Idempotent. */
  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.kick();
    await this.loop;
    this.removeCheck?.();
    this.removeCheck = undefined;
  }

  private want(config: ResolvedConfig): void {
    const before = this.wanted;
    this.wanted = config;
    if (before === undefined || restartKey(before) !== restartKey(config)) this.failures = 0;
    if (config.raft !== undefined && this.removeCheck === undefined)
      this.removeCheck = this.options.checks.register(this.healthCheck());
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.kick();
  }

  /** Runs `reconcile` until nothing changed while it ran; never two at once. */
  private kick(): void {
    this.dirty = true;
    this.loop = this.loop.then(async () => {
      while (this.dirty) {
        this.dirty = false;
        await this.reconcile();
      }
    });
  }

  private async reconcile(): Promise<void> {
    const config = this.closed ? undefined : this.wanted;
    const section = config?.raft;
    if (this.state.kind === 'running') {
      const member = this.state.member;
      if (config !== undefined && section !== undefined && restartKey(config) === member.key) {
        await this.catchUp(member, config);
        return;
      }
      this.state = { kind: 'off' };
      await this.stopMember(
        member,
        section === undefined ? 'the config has no raft section' : 'raft settings changed',
      );
    }
    if (config === undefined || section === undefined) {
      this.state = { kind: 'off' };
      if (this.removeCheck !== undefined && !this.closed) {
        this.removeCheck();
        this.removeCheck = undefined;
      }
      return;
    }
    this.state = { kind: 'starting' };
    try {
      const member = await this.startMember(config);
      this.failures = 0;
      this.state = { kind: 'running', member };
      // A reload that arrived during the start only reached `wanted`: apply it now.
      if (this.wanted !== config) this.dirty = true;
    } catch (error) {
      this.failures++;
      const delay = raftRetryDelayMs(this.failures);
      const reason = error instanceof Error ? error.message : String(error);
      this.state = { kind: 'waiting', reason, retryAt: Date.now() + delay };
      // A config the member cannot use yet (not listed among the peers, secret not mounted yet)
      // is the normal start of a pod: the reason says it all, a stack trace would read as a crash.
      const configError =
        error instanceof Error &&
        (error as Partial<RaftNodeError>).code === 'PALISADE_RAFT_NODE_CONFIG';
      this.options.logger?.warn(
        {
          ...(configError ? { reason } : { err: error }),
          retryInMs: delay,
          failures: this.failures,
          group: section.group,
        },
        'Raft member could not start; proxying continues without leases and sagas',
      );
      if (!this.closed) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, delay);
        this.retryTimer.unref();
      }
    }
  }

  /** Brings a member started from an older config up to date (reloads during its start). */
  private async catchUp(member: RunningMember, config: ResolvedConfig): Promise<void> {
    if (member.config === config) return;
    const change = diffConfig(member.config, config);
    try {
      const commits: ConfigCommit[] = [];
      for (const applier of member.appliers) {
        const commit = await applier.prepare(config, change, member.config);
        if (commit) commits.push(commit);
      }
      for (const commit of commits) commit();
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'Raft member keeps its previous saga definitions');
    }
    member.config = config;
  }

  private async startMember(config: ResolvedConfig): Promise<RunningMember> {
    const section = config.raft;
    if (section === undefined) throw new Error('no raft section');
    const owner = `${section.group} as ${section.id}`;
    const dataDir = section.dataDir;
    const previousOwner = dataDir === undefined ? undefined : this.dataDirOwners.get(dataDir);
    if (dataDir !== undefined && previousOwner !== undefined && previousOwner !== owner)
      throw new Error(
        `raft.dataDir ${dataDir} holds the log of ${previousOwner}, not ${owner}: a new group or id needs a new data directory (restart the pod)`,
      );
    const [{ raftPartitionApplier, raftPeersApplier, startRaftNode }, { SagaMachine, startSagas }] =
      await Promise.all([import('../raft-node/index.js'), import('../sagas/index.js')]);
    // The saga table is the log's second state machine: it exists before the node restores.
    const machine = new SagaMachine();
    const raft = await startRaftNode({
      machine,
      config: section,
      listenPort: config.listeners.raft,
      metrics: this.options.metrics,
      logger: this.options.logger,
      clock: this.options.clock,
      random: this.options.random,
      onFatal: this.options.onFatal,
    });
    if (dataDir !== undefined) this.dataDirOwners.set(dataDir, owner);
    let sagas: StartedSagas;
    try {
      sagas = startSagas({
        node: raft.node,
        machine,
        sagas: config.sagas,
        tracing: this.options.tracing,
        metrics: this.options.metrics,
        logger: this.options.sagasLogger,
        random: this.options.random,
      });
    } catch (error) {
      await raft.stop();
      throw error;
    }
    this.options.logger?.info(
      { group: section.group, id: section.id, peers: section.peers.length },
      'Raft member started',
    );
    return {
      raft,
      sagas,
      appliers: [raftPeersApplier(raft), raftPartitionApplier(raft, config), sagas.applier],
      key: restartKey(config),
      config,
    };
  }

  private async stopMember(member: RunningMember, reason: string): Promise<void> {
    this.options.logger?.info({ reason }, 'stopping the Raft member');
    await member.sagas.stop();
    await member.raft.stop();
  }

  private healthCheck(): HealthCheckDefinition {
    return {
      name: 'raft',
      readiness: this.options.readiness,
      check: () => {
        const state = this.state;
        switch (state.kind) {
          case 'running':
            return state.member.raft.readinessCheck.check();
          case 'waiting':
            throw new Error(
              `not started: ${state.reason}; retry in ${Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))} s`,
            );
          case 'starting':
            throw new Error('starting');
          case 'off':
            return 'no raft section in the config';
        }
      },
    };
  }

  private unavailable(_req: Request, res: Response): void {
    const state = this.state;
    const message =
      state.kind === 'waiting'
        ? `the Raft member is not running: ${state.reason}`
        : state.kind === 'starting'
          ? 'the Raft member is starting'
          : 'this sidecar is in no Raft group (the config has no raft section)';
    res
      .status(503)
      .set('retry-after', '1')
      .json({ error: { code: 'PALISADE_RAFT_UNAVAILABLE', message } });
  }
}
