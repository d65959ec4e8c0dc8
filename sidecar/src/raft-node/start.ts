/**
 * The one entry `main` calls: builds a {@link RaftNode} from the config's `raft` section and hands
 * back what the admin server needs (router, readiness check) and what config reloads need
 * (`updatePeers`). See the wiring snippet in docs/decisions/0011-raft-driver.md.
 */
import { isIP } from 'node:net';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { HealthCheckDefinition, RawRequestHandler } from '../admin/index.js';
import type { ConfigApplier, ResolvedConfig } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import type { Metrics } from '../metrics/index.js';
import { parseAddress, readSecretFile, type TrafficFilter } from '../raft-transport/index.js';
import { RaftNodeError } from './errors.js';
import { createLeaseHttpHandler, createLeaseRouter } from './lease-api.js';
import type { LogMachine } from './log-machine.js';
import type { PeerSpec } from './membership-policy.js';
import { RaftNode } from './raft-node.js';

/** The config's `raft` section, present. */
export type RaftSection = NonNullable<ResolvedConfig['raft']>;

/** Options of {@link startRaftNode}. */
export interface StartRaftNodeOptions {
  readonly config: RaftSection;
  /** `config.listeners.raft`: the transport listens there. */
  readonly listenPort: number;
  /** Used when `config.dataDir` is absent. */
  readonly dataDir?: string;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Overrides of the timing defaults (tests only). */
  readonly timing?: { readonly tickMs?: number; readonly electionTick?: number };
  /** Overrides of the snapshot policy (tests only: snapshot every N entries, keep M behind). */
  readonly snapshots?: { readonly every?: number; readonly keep?: number };
  /** Called once if the node stops on a storage failure: the process should exit and replay. */
  readonly onFatal?: (error: RaftNodeError) => void;
  /** The second state machine on the log (the saga table). */
  readonly machine?: LogMachine;
}

/** A started Raft node, as `main` uses it. */
export interface StartedRaftNode {
  /** Mount at `/v1`: `/v1/leases/…` and `/v1/raft`. */
  readonly router: Router;
  /** `admin.intercept(...)`: the lease routes without Express (the hot path). */
  readonly httpHandler: RawRequestHandler;
  /** Register with `HealthChecks`: "raft joined" (member of the group, leader known). */
  readonly readinessCheck: HealthCheckDefinition;
  readonly node: RaftNode;
  /** Call on every config reload with the new `raft.peers`. */
  updatePeers(peers: readonly PeerSpec[]): void;
  /** Fault experiments: drop traffic between members (`undefined` heals). */
  setPartition(filter: TrafficFilter | undefined): void;
  stop(): Promise<void>;
}

/** Reads the secret, opens the store, starts the transport and the loop. */
export async function startRaftNode(options: StartRaftNodeOptions): Promise<StartedRaftNode> {
  const { config } = options;
  if (config.secretFile === undefined) {
    throw new RaftNodeError(
      'PALISADE_RAFT_NODE_CONFIG',
      'raft.secretFile is required: Raft traffic is always authenticated',
    );
  }
  const dataDir = config.dataDir ?? options.dataDir;
  if (dataDir === undefined) {
    throw new RaftNodeError('PALISADE_RAFT_NODE_CONFIG', 'raft.dataDir is required');
  }
  const self = config.peers.find((peer) => peer.id === config.id);
  if (self === undefined) {
    throw new RaftNodeError(
      'PALISADE_RAFT_NODE_CONFIG',
      `raft.id ${config.id} is not in raft.peers`,
    );
  }
  // Listen on this member's own address when it is an IP (loopback in tests, the pod IP in a
  // cluster); on every interface when it is a name.
  const host = parseAddress(self.address).host;
  const secret = await readSecretFile(config.secretFile);
  const node = await RaftNode.start({
    group: config.group,
    id: config.id,
    peers: config.peers,
    secret,
    listen: { host: isIP(host) !== 0 ? host : '0.0.0.0', port: options.listenPort },
    dataDir,
    metrics: options.metrics,
    logger: options.logger,
    clock: options.clock,
    random: options.random,
    tickMs: options.timing?.tickMs,
    electionTick: options.timing?.electionTick,
    snapshotEvery: options.snapshots?.every,
    snapshotKeep: options.snapshots?.keep,
    onFatal: options.onFatal,
    machine: options.machine,
  });
  return {
    router: createLeaseRouter(node),
    httpHandler: createLeaseHttpHandler(node, { logger: options.logger }),
    readinessCheck: {
      name: 'raft',
      readiness: true,
      check: () => {
        if (!node.joined()) throw new Error(`not joined: ${node.describeState()}`);
        return node.describeState();
      },
    },
    node,
    updatePeers: (peers) => node.updatePeers(peers),
    setPartition: (filter) => node.setPartition(filter),
    stop: () => node.stop(),
  };
}

/**
 * The config-store applier that makes membership follow the peer list: on a reload that touches
 * `raft`, `updatePeers(next.raft.peers)`. (Group, id, secret and data dir take effect at the
 * next restart.)
 */
export function raftPeersApplier(started: Pick<StartedRaftNode, 'updatePeers'>): ConfigApplier {
  return {
    name: 'raft-peers',
    prepare(next, change) {
      if (!change.sections.includes('raft') || next.raft === undefined) return;
      const peers = next.raft.peers;
      return () => started.updatePeers(peers);
    },
  };
}
