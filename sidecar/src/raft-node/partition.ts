/**
 * The `partition` fault of a ChaosExperiment, applied to this sidecar's Raft transport: while
 * the config's `faults` hold a partition entry (the operator delivers it to the targeted pods
 * only), every Raft message to or from this member is dropped, so the member is cut off from
 * its group in both directions; when the entry goes away (end, abort, pause, deletion of the
 * experiment) the filter is removed and the member rejoins through Raft's own catch-up.
 */
import type { ConfigApplier, ResolvedConfig } from '../config/index.js';
import type { TrafficFilter } from '../raft-transport/index.js';
import type { StartedRaftNode } from './start.js';

/** Drops everything: the member is isolated. */
const ISOLATE: TrafficFilter = () => 'drop';

/** The transport filter `config` asks for: isolate while it carries a Raft partition fault. */
export function partitionFilterOf(config: ResolvedConfig): TrafficFilter | undefined {
  return config.faults.some((f) => f.type === 'partition' && (f.target ?? 'raft') === 'raft')
    ? ISOLATE
    : undefined;
}

/**
 * Applies the partition of `initial` now (a sidecar restarted mid-experiment stays cut off)
 * and returns the applier that follows later reloads of the `faults` section.
 */
export function raftPartitionApplier(
  started: Pick<StartedRaftNode, 'setPartition'>,
  initial: ResolvedConfig,
): ConfigApplier {
  started.setPartition(partitionFilterOf(initial));
  return {
    name: 'raft-partition',
    prepare(next, change) {
      if (!change.sections.includes('faults')) return;
      const filter = partitionFilterOf(next);
      return () => started.setPartition(filter);
    },
  };
}
