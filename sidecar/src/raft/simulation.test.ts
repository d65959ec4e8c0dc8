/**
 * The deterministic simulation (see testing/simulation.ts). CI runs RAFT_SIM_SEEDS seeds
 * (default below) of RAFT_SIM_STEPS steps each; a failure prints the command that replays it.
 *
 *   RAFT_SIM_SEEDS=20000 node --experimental-vm-modules node_modules/jest/bin/jest.js \
 *     --selectProjects unit --testPathPatterns sidecar/src/raft/simulation.test.ts   # more seeds
 *   RAFT_SIM_SEED=1234 …same command…                                # replay one, with a trace
 */
import { describe, expect, test } from '@jest/globals';
import { runSimulation, STEP_MS, type SimulationResult } from './testing/simulation.js';

const env = process.env;
const SEEDS = Number(env['RAFT_SIM_SEEDS'] ?? 2000);
const FIRST_SEED = Number(env['RAFT_SIM_FIRST_SEED'] ?? 1);
const STEPS = Number(env['RAFT_SIM_STEPS'] ?? 600);
const ONE_SEED = env['RAFT_SIM_SEED'];

function replayCommand(seed: number): string {
  return (
    `RAFT_SIM_SEED=${seed} RAFT_SIM_STEPS=${STEPS} node --experimental-vm-modules ` +
    `node_modules/jest/bin/jest.js --selectProjects unit --testPathPatterns sidecar/src/raft/simulation.test.ts`
  );
}

function report(result: SimulationResult): string {
  return [
    `seed ${result.seed} (${result.nodes} nodes) broke an invariant: ${result.violation ?? ''}`,
    `replay: ${replayCommand(result.seed)}`,
    'last events:',
    ...result.events.map((e) => `  ${e}`),
  ].join('\n');
}

describe('raft + leases deterministic simulation', () => {
  if (ONE_SEED !== undefined) {
    test(`seed ${ONE_SEED}`, () => {
      const result = runSimulation({ seed: Number(ONE_SEED), steps: STEPS, trace: true });
      console.log(JSON.stringify(result.stats), '\n' + result.events.join('\n'));
      expect(result.violation === undefined ? 'ok' : report(result)).toBe('ok');
    });
    return;
  }

  test(`${SEEDS} seeds × ${STEPS} steps of ${STEP_MS}ms hold every invariant`, () => {
    const started = performance.now();
    const totals = { steps: 0, elections: 0, crashes: 0, unpersisted: 0, partitions: 0, pauses: 0 };
    const more = {
      confChanges: 0,
      transfers: 0,
      snapshots: 0,
      grants: 0,
      conflicts: 0,
      reads: 0,
      committed: 0,
      appliedBeforeSave: 0,
      appliedDuringSave: 0,
      appliedBeforeOwnSave: 0,
    };
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const result = runSimulation({ seed, steps: STEPS });
      if (result.violation !== undefined) throw new Error(report(result));
      totals.steps += result.steps;
      totals.elections += result.stats.elections;
      totals.crashes += result.stats.crashes;
      totals.unpersisted += result.stats.crashesLosingUnpersisted;
      totals.partitions += result.stats.partitions;
      totals.pauses += result.stats.pauses;
      more.confChanges += result.stats.confChanges;
      more.transfers += result.stats.transfers;
      more.snapshots += result.stats.snapshotsSent;
      more.grants += result.stats.grants;
      more.conflicts += result.stats.conflicts;
      more.reads += result.stats.reads;
      more.committed += result.stats.committed;
      more.appliedBeforeSave += result.stats.appliedBeforeSave;
      more.appliedDuringSave += result.stats.appliedDuringSave;
      more.appliedBeforeOwnSave += result.stats.appliedBeforeOwnSave;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `raft simulation: ${SEEDS} seeds, ${totals.steps} steps, ${seconds.toFixed(1)}s; ` +
        JSON.stringify({ ...totals, ...more }),
    );
    // The run must actually have exercised the faults and the leases.
    expect(totals.crashes).toBeGreaterThan(0);
    expect(totals.unpersisted).toBeGreaterThan(0);
    expect(totals.partitions).toBeGreaterThan(0);
    expect(totals.pauses).toBeGreaterThan(0);
    expect(more.confChanges).toBeGreaterThan(0);
    expect(more.transfers).toBeGreaterThan(0);
    expect(more.snapshots).toBeGreaterThan(0);
    expect(more.grants).toBeGreaterThan(0);
    expect(more.conflicts).toBeGreaterThan(0);
    expect(more.reads).toBeGreaterThan(0);
    expect(more.appliedBeforeSave).toBeGreaterThan(0);
    expect(more.appliedDuringSave).toBeGreaterThan(0);
    expect(more.appliedBeforeOwnSave).toBeGreaterThan(0);
  }, 1_500_000); // ≈ 100 s of CPU; generous for a shared, loaded machine

  test('the lease checker catches clients that ignore clock drift and hold too long', () => {
    // Holding for 1.5×TTL instead of safeHoldMs(TTL) must be caught within a few seeds.
    let caught: SimulationResult | undefined;
    for (let seed = 1; seed <= 200 && !caught; seed++) {
      const result = runSimulation({ seed, steps: STEPS, clientHoldFactor: 1.5 });
      if (result.violation !== undefined) caught = result;
    }
    expect(caught?.violation).toMatch(/lease mutual exclusion/);
  }, 120_000);

  test('the read checker catches a leader that answers reads from its table', () => {
    // Without the log, a deposed leader that has not heard of its successor answers stale reads.
    let caught: SimulationResult | undefined;
    for (let seed = 1; seed <= 500 && !caught; seed++) {
      const result = runSimulation({ seed, steps: STEPS, staleReads: true });
      if (result.violation !== undefined) caught = result;
    }
    expect(caught?.violation).toMatch(/linearizable read/);
  }, 300_000);
});
