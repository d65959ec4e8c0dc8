/**
 * Local network chaos between sidecar test hosts (`chaos/netns.sh`): N sidecar Raft members,
 * each in its own network namespace behind a bridge, a lease client in every namespace, and a
 * fault schedule — calm; delay and loss on every link (`tc netem`, or `iptables -m statistic`
 * and a `tbf` queue where netem is missing); the leader cut off both ways; healed. The
 * namespaces, links and faults are the sidecar tests' own (`NetnsLab`), so a drill here and
 * the Raft netns tests exercise the same thing. Prints a Markdown report: operations, grants
 * and refusals per phase, the failover after the cut, and the lease history check (no two
 * holders at once, fencing tokens in order).
 *
 * Needs root (ip netns, tc, iptables) and `npx tsc -b` (the members run the built sidecar).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  monotonicMs,
  type LeaseHistoryEvent,
} from '../../sidecar/src/raft-node/testing/lease-client.js';
import type * as ProcessClusterModule from '../../sidecar/src/raft-node/testing/process-cluster.js';
import { checkLeaseHistory } from '../../sidecar/test/support/history-checker.js';
import {
  NetnsLab,
  labMembers,
  runLeaseClients,
  type LabHost,
} from '../../sidecar/test/support/netns.js';

const USAGE = `Usage: chaos/netns.sh [--members 3] [--phase-seconds 8] [--delay 100ms] [--loss 5] [--report <file>]

Runs sidecar Raft members in network namespaces with lease clients and injects, one phase
each: nothing, delay and loss on every link, a partition of the leader, healing.`;

interface Options {
  members: number;
  phaseMs: number;
  delay: string;
  lossPercent: number;
  report?: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      members: { type: 'string', default: '3' },
      'phase-seconds': { type: 'string', default: '8' },
      delay: { type: 'string', default: '100ms' },
      loss: { type: 'string', default: '5' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const members = Number(values.members);
  const phaseSeconds = Number(values['phase-seconds']);
  const lossPercent = Number(values.loss);
  if (!Number.isInteger(members) || members < 3 || members > 7 || members % 2 === 0)
    throw new Error('--members must be 3, 5 or 7');
  if (!(phaseSeconds >= 3 && phaseSeconds <= 600)) throw new Error('--phase-seconds: 3–600');
  if (!/^[0-9]+ms$/.test(values.delay)) throw new Error('--delay takes milliseconds, e.g. 100ms');
  if (!(lossPercent >= 0 && lossPercent <= 50)) throw new Error('--loss: 0–50 (percent)');
  return {
    members,
    phaseMs: phaseSeconds * 1000,
    delay: values.delay,
    lossPercent,
    ...(values.report === undefined ? {} : { report: values.report }),
  };
}

/** The repository, from chaos/dist/chaos/src where this file runs. */
const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');

/**
 * The sidecar's own process harness, loaded from its build: it spawns the files next to itself
 * (the standalone Raft node, the lease client), which exist only under sidecar/dist.
 */
async function loadProcessCluster(): Promise<typeof ProcessClusterModule> {
  const path = join(repoRoot, 'sidecar', 'dist', 'raft-node', 'testing', 'process-cluster.js');
  return (await import(pathToFileURL(path).href)) as typeof ProcessClusterModule;
}

const hold = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Per-phase counts of what the clients saw. */
function phaseTable(
  events: readonly LeaseHistoryEvent[],
  phases: readonly { name: string; at: number }[],
  end: number,
): string[] {
  const rows = ['| phase | operations | granted | refused (409) | unavailable (503/timeout) |'];
  rows.push('|---|---|---|---|---|');
  for (const [i, phase] of phases.entries()) {
    const until = phases[i + 1]?.at ?? end;
    const inPhase = events.filter((e) => e.completedAt >= phase.at && e.completedAt < until);
    const count = (...outcomes: LeaseHistoryEvent['outcome'][]) =>
      inPhase.filter((e) => outcomes.includes(e.outcome)).length;
    rows.push(
      `| ${phase.name} | ${inPhase.length} | ${count('granted')} | ${count('held', 'stale')} | ${count('unavailable', 'error')} |`,
    );
  }
  return rows;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'palisade-chaos-netns-'));
  let lab: NetnsLab | undefined;
  const { LEASE_CLIENT_JS, ProcessCluster } = await loadProcessCluster();
  let cluster: InstanceType<typeof ProcessCluster> | undefined;
  const cleanUp = async () => {
    await cluster?.stopAll();
    await lab?.destroy();
    await rm(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    lab = await NetnsLab.create(options.members);
    const hosts = lab.hosts;
    cluster = new ProcessCluster({ dir, members: labMembers(lab) });
    const c = cluster;
    const l = lab;
    const hostOf = (id: string) => hosts[Number(id.slice(1)) - 1] as LabHost;
    await c.prepare();
    await c.startAll();
    const first = await c.waitForLeader(20_000);
    console.error(`leader ${first.leader} (term ${first.term}); faults start`);

    const durationMs = options.phaseMs * 4;
    const startedAt = monotonicMs();
    const clients = runLeaseClients(c.members, LEASE_CLIENT_JS, durationMs);
    const phases: { name: string; at: number }[] = [];
    const phase = (name: string) => {
      phases.push({ name, at: monotonicMs() });
      console.error(`phase: ${name}`);
    };

    phase('calm');
    await hold(options.phaseMs);
    phase(`delay ${options.delay}, loss ${options.lossPercent}% on every link`);
    for (const m of c.members) await l.netem(hostOf(m.id), options.delay, options.lossPercent);
    await hold(options.phaseMs);
    for (const m of c.members) await l.clearNetem(hostOf(m.id));
    const leader = (await c.waitForLeader(15_000)).leader;
    phase(`leader ${leader} partitioned`);
    const cutAt = monotonicMs();
    await l.partition(hostOf(leader));
    const next = await c.waitForLeader(
      30_000,
      c.members.map((m) => m.id).filter((id) => id !== leader),
    );
    const failoverMs = monotonicMs() - cutAt;
    await hold(Math.max(0, options.phaseMs - failoverMs));
    phase('healed');
    await l.heal(hostOf(leader));
    const events = (await Promise.all(clients)).flat();
    const check = checkLeaseHistory(events);

    const report = [
      `# Network chaos report: ${options.members} sidecar Raft members in network namespaces`,
      '',
      `- command: \`chaos/netns.sh --members ${options.members} --phase-seconds ${options.phaseMs / 1000} --delay ${options.delay} --loss ${options.lossPercent}\``,
      `- delay/loss by: ${l.netemUnavailable === undefined ? 'tc netem' : `iptables statistic + tbf (netem unavailable: ${l.netemUnavailable})`}`,
      `- first leader: ${first.leader} (term ${first.term}); partitioned: ${leader}; new leader ${next.leader} (term ${next.term}) ${failoverMs.toFixed(0)} ms after the cut (upper bound: the host is shared)`,
      `- lease clients: ${c.members.length} (one per namespace), names alpha and beta, ttl 1s, ${events.length} operations, ${check.grants} grants`,
      `- history check (mutual exclusion, token order): ${check.violations.length === 0 ? '**no violation**' : `**${check.violations.length} violations**`}`,
      ...check.violations.slice(0, 10).map((v) => `  - ${v}`),
      '',
      ...phaseTable(events, phases, startedAt + durationMs),
      '',
    ].join('\n');
    console.log(report);
    if (options.report !== undefined) await writeFile(options.report, report);
    return check.violations.length === 0 ? 0 : 1;
  } finally {
    await cleanUp();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`netns chaos: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
