/**
 * Network namespaces for the Raft fault tests: one namespace per member, each with a veth whose
 * other end sits in a bridge inside a "hub" namespace. Addresses are 10.250.<subnet>.0/24 and
 * exist only inside these namespaces: nothing is configured in the host's own namespace, so the
 * test's traffic cannot leave the machine. Faults: `iptables … -j DROP` inside a member's
 * namespace (partitions, one-way or both ways) and `tc netem` on its veth (delay, loss).
 *
 * Everything is removed by {@link NetnsLab.destroy}, which tolerates half-built labs (call it in
 * afterAll even when creation failed).
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { LeaseHistoryEvent } from '../../src/raft-node/testing/lease-client.js';
import type { ClusterMember } from '../../src/raft-node/testing/process-cluster.js';

const run = promisify(execFile);

/** Runs a command, throwing with its stderr on failure. */
export async function sh(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, [...args], { timeout: 15_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** One member's namespace. */
export interface LabHost {
  readonly netns: string;
  readonly address: string;
}

/** A bridge of namespaces; see the module comment. */
export class NetnsLab {
  readonly hosts: LabHost[] = [];
  private readonly hub: string;
  private readonly created: string[] = [];

  private constructor(
    private readonly prefix: string,
    private readonly subnet: number,
  ) {
    this.hub = `${prefix}-hub`;
  }

  /** Creates the hub and `count` member namespaces. Throws with the exact `ip` error. */
  static async create(count: number): Promise<NetnsLab> {
    const tag = `${process.pid % 100000}${Math.floor(Math.random() * 100)}`;
    const lab = new NetnsLab(`palr${tag}`, 1 + Math.floor(Math.random() * 250));
    try {
      await lab.build(count);
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  private async build(count: number): Promise<void> {
    await sh('ip', ['netns', 'add', this.hub]);
    this.created.push(this.hub);
    await this.exec(this.hub, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await this.exec(this.hub, 'ip', ['link', 'set', 'br0', 'up']);
    await this.exec(this.hub, 'ip', ['link', 'set', 'lo', 'up']);
    for (let i = 1; i <= count; i++) {
      const netns = `${this.prefix}-n${i}`;
      await sh('ip', ['netns', 'add', netns]);
      this.created.push(netns);
      await sh('ip', [
        'link',
        'add',
        'eth0',
        'netns',
        netns,
        'type',
        'veth',
        'peer',
        'name',
        `h${i}`,
        'netns',
        this.hub,
      ]);
      await this.exec(this.hub, 'ip', ['link', 'set', `h${i}`, 'master', 'br0']);
      await this.exec(this.hub, 'ip', ['link', 'set', `h${i}`, 'up']);
      const address = `10.250.${this.subnet}.${i + 1}`;
      await this.exec(netns, 'ip', ['addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await this.exec(netns, 'ip', ['link', 'set', 'eth0', 'up']);
      await this.exec(netns, 'ip', ['link', 'set', 'lo', 'up']);
      this.hosts.push({ netns, address });
    }
  }

  /** Runs a command inside a namespace. */
  exec(netns: string, command: string, args: readonly string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', netns, command, ...args]);
  }

  /** Drops everything on the member's veth: `both` ways, or only what comes `in`. */
  async partition(host: LabHost, direction: 'both' | 'in' = 'both'): Promise<void> {
    await this.exec(host.netns, 'iptables', ['-A', 'INPUT', '-i', 'eth0', '-j', 'DROP']);
    if (direction === 'both') {
      await this.exec(host.netns, 'iptables', ['-A', 'OUTPUT', '-o', 'eth0', '-j', 'DROP']);
    }
  }

  /** Removes the member's DROP rules. */
  async heal(host: LabHost): Promise<void> {
    await this.exec(host.netns, 'iptables', ['-D', 'INPUT', '-i', 'eth0', '-j', 'DROP']).catch(
      () => undefined,
    );
    await this.exec(host.netns, 'iptables', ['-D', 'OUTPUT', '-o', 'eth0', '-j', 'DROP']).catch(
      () => undefined,
    );
  }

  /**
   * Why netem could not be used, if it could not (`tc … netem` → "Specified qdisc kind is
   * unknown" on kernels built without CONFIG_NET_SCH_NETEM). The fallback is then real packet
   * loss by `iptables -m statistic` and queueing delay by a `tbf` rate limit, which delays packets
   * only when traffic queues up: not a fixed latency.
   */
  netemUnavailable: string | undefined;
  private readonly lossRules = new Map<string, string>();

  /**
   * Delay and loss on the member's veth: `tc qdisc replace dev eth0 root netem delay <delay>
   * loss <loss>`, or the fallback described at {@link netemUnavailable}.
   */
  async netem(host: LabHost, delay: string, lossPercent: number): Promise<void> {
    if (this.netemUnavailable === undefined) {
      try {
        await this.exec(host.netns, 'tc', [
          'qdisc',
          'replace',
          'dev',
          'eth0',
          'root',
          'netem',
          'delay',
          delay,
          'loss',
          `${lossPercent}%`,
        ]);
        return;
      } catch (error) {
        if (!(error as Error).message.includes('qdisc kind is unknown')) throw error;
        this.netemUnavailable = (error as Error).message;
      }
    }
    const probability = String(lossPercent / 100);
    this.lossRules.set(host.netns, probability);
    for (const chain of [
      ['INPUT', '-i'],
      ['OUTPUT', '-o'],
    ] as const) {
      await this.exec(host.netns, 'iptables', [
        '-A',
        chain[0],
        chain[1],
        'eth0',
        '-m',
        'statistic',
        '--mode',
        'random',
        '--probability',
        probability,
        '-j',
        'DROP',
      ]);
    }
    await this.exec(host.netns, 'tc', [
      'qdisc',
      'replace',
      'dev',
      'eth0',
      'root',
      'tbf',
      'rate',
      '2mbit',
      'burst',
      '16kbit',
      'latency',
      delay,
    ]);
  }

  /** Removes the member's delay and loss (netem, or the fallback's rules and tbf). */
  async clearNetem(host: LabHost): Promise<void> {
    await this.exec(host.netns, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(
      () => undefined,
    );
    if (this.netemUnavailable !== undefined) {
      for (const chain of [
        ['INPUT', '-i'],
        ['OUTPUT', '-o'],
      ] as const) {
        await this.exec(host.netns, 'iptables', [
          '-D',
          chain[0],
          chain[1],
          'eth0',
          '-m',
          'statistic',
          '--mode',
          'random',
          '--probability',
          this.lossRules.get(host.netns) ?? '0',
          '-j',
          'DROP',
        ]).catch(() => undefined);
      }
    }
  }

  /** Deletes every namespace it created (their veths and rules go with them). Idempotent. */
  async destroy(): Promise<void> {
    for (const netns of this.created.splice(0).reverse()) {
      await sh('ip', ['netns', 'del', netns]).catch(() => undefined);
    }
  }
}

/**
 * Runs the lease client CLI inside a namespace (next to its member's admin API) and resolves with
 * its recorded history.
 */
export function runClientInNetns(options: {
  readonly netns: string;
  readonly clientJs: string;
  readonly client: string;
  readonly adminPort: number;
  readonly durationMs: number;
  readonly ttlMs: number;
  readonly names: readonly string[];
}): Promise<LeaseHistoryEvent[]> {
  const args = [
    'netns',
    'exec',
    options.netns,
    process.execPath,
    options.clientJs,
    options.client,
    String(options.adminPort),
    String(options.durationMs),
    String(options.ttlMs),
    ...options.names,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`client ${options.client} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as LeaseHistoryEvent[]);
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

/** The members of a `ProcessCluster` on a lab: one voter per namespace, Raft 15010, admin 15000. */
export function labMembers(lab: NetnsLab): ClusterMember[] {
  return lab.hosts.map((host, i) => ({
    id: `n${i + 1}`,
    host: host.address,
    raftPort: 15010,
    adminPort: 15000,
    voter: true,
    netns: host.netns,
  }));
}

/**
 * One lease client per member, in the member's namespace, on names `alpha` and `beta` with a
 * 1 s TTL for `durationMs`; `clientJs` is the built lease client (`LEASE_CLIENT_JS`).
 */
export function runLeaseClients(
  members: readonly ClusterMember[],
  clientJs: string,
  durationMs: number,
): Promise<LeaseHistoryEvent[]>[] {
  return members.map((m) =>
    runClientInNetns({
      netns: m.netns as string,
      clientJs,
      client: `app-${m.id}`,
      adminPort: m.adminPort,
      durationMs,
      ttlMs: 1_000,
      names: ['alpha', 'beta'],
    }),
  );
}
