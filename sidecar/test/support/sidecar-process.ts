/**
 * The real `palisade-sidecar` process for black-box tests: builds the package if its sources
 * are newer than the last build, writes a SidecarConfig (listeners on free loopback ports) to a
 * temporary file, spawns `node sidecar/dist/bin/palisade-sidecar.js --config <file>`, and waits
 * until its admin API answers. The test then talks to it over real sockets only: the inbound and
 * outbound proxies, `/metrics`, `/config`, `/healthz`, signals, and rewrites of the config file.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
/** The built entry point. */
export const SIDECAR_BIN = join(repo, 'sidecar/dist/bin/palisade-sidecar.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function mtimeOr0(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

let built = false;

/**
 * Runs `tsc -b sidecar` when `sidecar/src` or `crds/src` changed since the last build (or the
 * bin is missing). Serialized across jest workers with a lock directory.
 */
export function buildSidecar(): void {
  if (built) return;
  const info = join(repo, 'sidecar/dist/.tsbuildinfo');
  const stale = (): boolean =>
    mtimeOr0(SIDECAR_BIN) === 0 ||
    Math.max(newestMtime(join(repo, 'sidecar/src')), newestMtime(join(repo, 'crds/src'))) >
      mtimeOr0(info);
  if (stale()) {
    const lock = join(repo, 'sidecar/dist/.test-build-lock');
    const deadline = Date.now() + 180_000;
    for (;;) {
      try {
        mkdirSync(lock, { recursive: false });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`build lock ${lock} held for too long`);
        execFileSync('sleep', ['0.2']);
      }
    }
    try {
      if (stale()) {
        execFileSync(
          process.execPath,
          [join(repo, 'node_modules/typescript/bin/tsc'), '-b', 'sidecar'],
          {
            cwd: repo,
            stdio: 'pipe',
            timeout: 170_000,
          },
        );
      }
    } catch (error) {
      const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
      // tsc still emits on type errors elsewhere in the tree; only a missing bin is fatal.
      if (mtimeOr0(SIDECAR_BIN) === 0) throw new Error(`tsc -b sidecar failed:\n${output}`);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  built = true;
}

/** Ports {@link freePort} returned in this process (several are chosen before any is bound). */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 (bound then released; fine for tests on one machine), never one
 * this process was given before: a port chosen earlier but not bound yet (a Raft port shared by
 * pods started later, say) is free to the kernel, which may hand it out again.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => {
          if (address !== null && typeof address === 'object') resolvePort(address.port);
          else reject(new Error('no free port'));
        });
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** A SidecarConfig without `listeners` (the helper picks free ports). */
export type TestConfig = Record<string, unknown> & {
  version: string;
  app: { host: string; port: number };
};

/** One JSON log line of the sidecar. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** An HTTP answer as the test sees it. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** Options of one request. */
export interface RequestOptions {
  readonly method?: string;
  /** Origin-form path, or an absolute URL for the forward proxy. */
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Keep-alive agent to reuse connections; default: one connection per request. */
  readonly agent?: http.Agent;
  /** Give up (reject) after this long. Default 10 s. */
  readonly timeoutMs?: number;
}

/** Sends one request to `127.0.0.1:port` and reads the whole answer. */
export function send(port: number, options: RequestOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolveAnswer, reject) => {
    const body = options.body;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: {
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...options.headers,
        },
        agent: options.agent ?? false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request timed out on port ${port}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Polls `condition` until it returns a truthy value, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  condition: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs = 5000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The value of the sample `name{labels…}` in a Prometheus text exposition (labels given must
 * match; others are ignored), or undefined when absent.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const close = rest[0] === '{' ? rest.indexOf('}') : -1;
    const found: Record<string, string> = {};
    if (close > 0) {
      for (const m of rest.slice(1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
        found[m[1] as string] = m[2] as string;
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v))
      return Number(
        rest
          .slice(close + 1)
          .trim()
          .split(' ')[0],
      );
  }
  return undefined;
}

/** A running sidecar process. */
export interface SidecarProcess {
  /** `probe` is set in Kubernetes mode (the probe listener's port). */
  readonly ports: {
    inbound: number;
    outbound: number;
    admin: number;
    raft: number;
    probe?: number;
  };
  readonly configPath: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Log lines so far (pino JSON on stdout). */
  logs(): LogLine[];
  stderr(): string;
  /** The config as it would be written (listeners filled in) for `config`. */
  withListeners(config: TestConfig): Record<string, unknown>;
  /** Replaces the config file atomically (write to a temp file, rename over). */
  writeConfig(config: TestConfig): Promise<void>;
  /** Replaces the config file with raw text (e.g. something invalid). */
  writeRaw(text: string): Promise<void>;
  /** GET on the admin API. */
  admin(path: string): Promise<HttpAnswer>;
  /** `metricValue` on a fresh scrape of `/metrics`. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /** Sends a signal; `stop` for the usual end of a test. */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), remove the temp dir. */
  stop(): Promise<void>;
}

/** Options of `startSidecarProcess`. */
export interface SidecarProcessOptions {
  readonly config: TestConfig;
  /** Extra command-line arguments (e.g. `--seed 7`). */
  readonly args?: readonly string[];
  /** Time to wait for the admin API to answer. Default 20 s. */
  readonly startTimeoutMs?: number;
  /** The Raft port, when peers must know it before the process starts. Default: a free port. */
  readonly raftPort?: number;
  /**
   * Kubernetes mode: no config file; `--kubernetes --kubeconfig …` with POD_NAME and
   * POD_NAMESPACE, the app port from `config.app.port`, every listener (and the probe
   * listener) on a free port given as flags.
   */
  readonly kubernetes?: {
    readonly kubeconfig: string;
    readonly namespace: string;
    readonly podName: string;
  };
}

/** Builds if needed, writes the config, spawns the sidecar and waits until `/livez` answers. */
export async function startSidecarProcess(options: SidecarProcessOptions): Promise<SidecarProcess> {
  buildSidecar();
  const kube = options.kubernetes;
  const ports = {
    inbound: await freePort(),
    outbound: await freePort(),
    admin: await freePort(),
    raft: options.raftPort ?? (await freePort()),
    ...(kube === undefined ? {} : { probe: await freePort() }),
  };
  const dir = mkdtempSync(join(tmpdir(), 'palisade-sidecar-'));
  const configPath = join(dir, 'sidecar.yaml');
  const withListeners = (config: TestConfig): Record<string, unknown> => ({
    ...config,
    listeners: ports,
  });
  let counter = 0;
  const writeRaw = async (text: string): Promise<void> => {
    const tmp = join(dir, `.sidecar.yaml.${counter++}`);
    await writeFile(tmp, text);
    await rename(tmp, configPath);
  };
  // JSON is YAML: the file is what a user could have written.
  const writeConfig = (config: TestConfig): Promise<void> =>
    writeRaw(JSON.stringify(withListeners(config), null, 2));
  await writeConfig(options.config);

  const source =
    kube === undefined
      ? ['--config', configPath]
      : [
          '--kubernetes',
          '--kubeconfig',
          kube.kubeconfig,
          '--app-port',
          String(options.config.app.port),
          ...Object.entries(ports).flatMap(([name, port]) => [`--${name}-port`, String(port)]),
        ];
  const child = spawn(process.execPath, [SIDECAR_BIN, ...source, ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env:
      kube === undefined
        ? process.env
        : { ...process.env, POD_NAME: kube.podName, POD_NAMESPACE: kube.namespace },
  });
  const lines: LogLine[] = [];
  let partial = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    let newline: number;
    while ((newline = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        lines.push({ msg: line, level: 'raw' });
      }
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));

  const admin = (path: string): Promise<HttpAnswer> => send(ports.admin, { path, timeoutMs: 5000 });
  const sidecar: SidecarProcess = {
    ports,
    configPath,
    child,
    exited,
    logs: () => lines,
    stderr: () => stderr,
    withListeners,
    writeConfig,
    writeRaw,
    admin,
    metric: async (name, labels) => metricValue((await admin('/metrics')).body, name, labels),
    kill: (signal) => {
      child.kill(signal);
    },
    stop: async () => {
      if (!gone) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitFor(
      'the sidecar admin API',
      async () => {
        if (gone) throw new Error(`sidecar exited during start-up: ${stderr}`);
        return (await admin('/livez')).status === 200;
      },
      options.startTimeoutMs ?? 20_000,
      50,
    );
  } catch (error) {
    await sidecar.stop();
    throw new Error(
      `${(error as Error).message}\nstderr: ${stderr}\nlogs: ${JSON.stringify(lines)}`,
    );
  }
  return sidecar;
}

/** Runs the CLI to completion (for arguments and config errors); kills it after `timeoutMs`. */
export function runSidecarCli(
  args: readonly string[],
  timeoutMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  buildSidecar();
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [SIDECAR_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}
