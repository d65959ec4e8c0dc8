/**
 * Test and benchmark harness: a Raft group of real processes (`standalone.js`), each with its own
 * SidecarConfig file and data directory, on loopback or each in a network namespace (run through
 * `ip netns exec`). The admin API is loopback-only, so inside a namespace it is reached with
 * `ip netns exec <ns> curl`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminRequest, type JsonAnswer } from './lease-client.js';

/** One member of the test group. */
export interface ClusterMember {
  readonly id: string;
  /** IP the Raft transport listens on (127.0.0.1, or the namespace's address). */
  readonly host: string;
  readonly raftPort: number;
  readonly adminPort: number;
  readonly voter: boolean;
  /** Network namespace to run in, if any. */
  readonly netns?: string;
}

/** Options of {@link ProcessCluster}. */
export interface ProcessClusterOptions {
  /** Scratch directory: configs, data dirs, logs. */
  readonly dir: string;
  readonly members: readonly ClusterMember[];
  readonly group?: string;
  readonly tickMs?: number;
  /** Snapshot every N applied entries, keeping M behind (defaults: the node's). */
  readonly snapshots?: { readonly every: number; readonly keep: number };
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Extra `node` flags for the member processes (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
}

/** `GET /v1/raft` as the harness reads it. */
export interface MemberStatus {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly members: readonly { id: string; suffrage: string }[];
}

/** Compiled output: tests load this module from src/ (through swc) but spawn the built files. */
const here = dirname(fileURLToPath(import.meta.url)).replace(
  /([/\\])src([/\\])raft-node([/\\])testing$/,
  '$1dist$2raft-node$3testing',
);
/** The compiled standalone entry (tests run after `tsc -b`). */
export const STANDALONE_JS = join(here, '..', 'standalone.js');
/** The compiled lease client CLI. */
export const LEASE_CLIENT_JS = join(here, 'lease-client-cli.js');

/**
 * Free-ish port base for a loopback cluster: ports base … base + 10·n, all below Linux's default
 * ephemeral range (32768–60999), where every outbound connection on the machine takes its local
 * port (a member then failed to listen now and then: "cannot listen on 127.0.0.1:45190").
 */
export function randomPortBase(): number {
  return 20_000 + Math.floor(Math.random() * 1_200) * 10;
}

/** Loopback members `n1…nN` with ports from `base`. */
export function loopbackMembers(count: number, base = randomPortBase()): ClusterMember[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `n${i + 1}`,
    host: '127.0.0.1',
    raftPort: base + i * 10,
    adminPort: base + i * 10 + 1,
    voter: true,
  }));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}` +
      (lastError instanceof Error ? ` (last error: ${lastError.message})` : ''),
  );
}

/** A group of member processes. */
export class ProcessCluster {
  readonly members: readonly ClusterMember[];
  private readonly processes = new Map<string, ChildProcess>();
  private readonly logs = new Map<string, string[]>();
  private readonly secretFile: string;

  constructor(private readonly options: ProcessClusterOptions) {
    this.members = options.members;
    this.secretFile = join(options.dir, 'raft-secret');
  }

  /** Writes the secret and every member's config (peers: every member, in list order). */
  async prepare(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    await writeFile(this.secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    for (const member of this.members) await this.writeConfig(member, this.members);
  }

  /** (Re)writes a member's config with the given peer list. */
  async writeConfig(member: ClusterMember, peers: readonly ClusterMember[]): Promise<void> {
    const config = {
      version: '1',
      app: { host: '127.0.0.1', port: 9 },
      listeners: {
        admin: member.adminPort,
        raft: member.raftPort,
        inbound: member.raftPort + 2,
        outbound: member.raftPort + 3,
      },
      raft: {
        group: this.options.group ?? 'test/leases',
        id: member.id,
        peers: peers.map((p) => ({ id: p.id, address: `${p.host}:${p.raftPort}`, voter: p.voter })),
        secretFile: this.secretFile,
        dataDir: join(this.options.dir, `data-${member.id}`),
      },
      logLevel: this.options.logLevel ?? 'warn',
    };
    await writeFile(this.configPath(member.id), JSON.stringify(config, null, 2));
  }

  private configPath(id: string): string {
    return join(this.options.dir, `config-${id}.json`);
  }

  member(id: string): ClusterMember {
    const member = this.members.find((m) => m.id === id);
    if (member === undefined) throw new Error(`no member ${id}`);
    return member;
  }

  /** Whether the member's process runs. */
  running(id: string): boolean {
    return this.processes.has(id);
  }

  /** The member's process id (of `ip netns exec`'s child, which execs node), if running. */
  pid(id: string): number | undefined {
    return this.processes.get(id)?.pid;
  }

  /** Starts a member and waits for its ready line (its admin API listens). */
  async start(id: string, timeoutMs = 20_000): Promise<void> {
    const member = this.member(id);
    const args = [...(this.options.nodeArgs ?? []), STANDALONE_JS, '--config', this.configPath(id)];
    const env = {
      ...process.env,
      ...(this.options.tickMs ? { PALISADE_RAFT_TICK_MS: String(this.options.tickMs) } : {}),
      ...(this.options.snapshots
        ? {
            PALISADE_RAFT_SNAPSHOT_EVERY: String(this.options.snapshots.every),
            PALISADE_RAFT_SNAPSHOT_KEEP: String(this.options.snapshots.keep),
          }
        : {}),
    };
    const child =
      member.netns === undefined
        ? spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('ip', ['netns', 'exec', member.netns, process.execPath, ...args], {
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    const log = this.logs.get(id) ?? [];
    this.logs.set(id, log);
    child.stderr?.on('data', (chunk: Buffer) => {
      log.push(chunk.toString('utf8'));
      if (log.length > 200) log.shift();
    });
    this.processes.set(id, child);
    child.once('exit', () => {
      if (this.processes.get(id) === child) this.processes.delete(id);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${id} not ready in ${timeoutMs} ms: ${this.log(id)}`)),
        timeoutMs,
      );
      let buffer = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        if (buffer.includes('"event":"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${id} exited with ${code} before ready: ${this.log(id)}`));
      });
    });
  }

  /** Starts every member concurrently. */
  async startAll(): Promise<void> {
    await Promise.all(this.members.map((m) => this.start(m.id)));
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.processes.get(id);
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Under `ip netns exec`, the node process is the exec'd child itself (ip execs, no fork).
    child.kill(signal);
    await exited;
    this.processes.delete(id);
  }

  /** Kills every member (SIGKILL). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.keys()].map((id) => this.kill(id)));
  }

  /** The last stderr lines of a member. */
  log(id: string): string {
    return (this.logs.get(id) ?? []).join('').slice(-4000);
  }

  /** An admin API call to a member (through `ip netns exec … curl` in a namespace). */
  async request(
    id: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<JsonAnswer> {
    const member = this.member(id);
    if (member.netns === undefined) return adminRequest(member.adminPort, method, path, body);
    const args = ['netns', 'exec', member.netns, 'curl', '-s', '-m', '5', '-X', method];
    if (body !== undefined) {
      args.push('-H', 'content-type: application/json', '--data', JSON.stringify(body));
    }
    args.push('-w', '\n%{http_code}', `http://127.0.0.1:${member.adminPort}${path}`);
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.once('error', reject);
      child.once('exit', () => resolve(out));
    });
    const cut = output.lastIndexOf('\n');
    const status = Number(output.slice(cut + 1));
    const text = output.slice(0, Math.max(cut, 0));
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = { raw: text };
    }
    if (!Number.isFinite(status) || status === 0) throw new Error(`no answer from ${id}`);
    return { status, body: parsed };
  }

  /** `GET /v1/raft` of a running member, or undefined if it does not answer. */
  async status(id: string): Promise<MemberStatus | undefined> {
    if (!this.running(id)) return undefined;
    try {
      const answer = await this.request(id, 'GET', '/v1/raft');
      return answer.status === 200 ? (answer.body as unknown as MemberStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until the running members (or `among`) agree on one leader that is running and says
   * it leads; returns it and its term.
   */
  async waitForLeader(
    timeoutMs: number,
    among?: readonly string[],
  ): Promise<{ leader: string; term: number }> {
    const ids = among ?? this.members.map((m) => m.id).filter((id) => this.running(id));
    let last: (MemberStatus | undefined)[] = [];
    try {
      return await pollUntil('a leader all running members agree on', timeoutMs, async () => {
        const statuses = await Promise.all(ids.map((id) => this.status(id)));
        last = statuses;
        const leaderStatus = statuses.find((s) => s?.role === 'leader');
        if (leaderStatus === undefined) return undefined;
        const agree = statuses.every(
          (s) => s?.leader === leaderStatus.id && s.term === leaderStatus.term,
        );
        return agree ? { leader: leaderStatus.id, term: leaderStatus.term } : undefined;
      });
    } catch (error) {
      // What each member said last: which of them disagreed, and how.
      const seen = ids.map((id, i) => {
        const s = last[i];
        return s === undefined
          ? `${id}: no answer`
          : `${id}: ${s.role} term ${s.term} leader ${s.leader ?? '-'} commit ${s.commitIndex}`;
      });
      throw new Error(`${(error as Error).message}; last seen: ${seen.join('; ')}`);
    }
  }
}
