/**
 * Processes of the benchmarks: free ports, pinned children, waiting for a port, stopping, and a
 * SidecarConfig file for the real `palisade-sidecar` binary. Shared by proxy-bench.ts and
 * ratelimit-accuracy.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The sidecar binary as users run it (`node …/palisade-sidecar.js --config <file>`). */
export const sidecarBinary = path.join(repoRoot, 'sidecar/dist/bin/palisade-sidecar.js');

/**
 * Node flags the benchmarks start the sidecar with, as deployments do (sidecar/Dockerfile): a
 * 1 MiB young generation instead of 16 MiB semi-spaces (−15 to −25 MB resident, CPU per request
 * within noise; decision 0006), and a 1 GiB old-space cap, which lowers V8's heap growing factor
 * from 4 to 1.6 (−15 to −25 MB resident under and right after load; more CPU with thousands of
 * connections; decision 0019).
 * `BENCH_SIDECAR_NODE_FLAGS` (space-separated) replaces them, to compare V8 settings.
 */
export const sidecarNodeFlags: readonly string[] = process.env.BENCH_SIDECAR_NODE_FLAGS?.split(
  ' ',
).filter(Boolean) ?? ['--max-semi-space-size=1', '--max-old-space-size=1024'];

/** Ports {@link freePort} returned in this process (several are chosen before any is bound). */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 (bound then released), never one this process was given before:
 * a port chosen but not bound yet (a sidecar's admin and outbound ports, written into its config
 * before it starts) is free to the kernel, which may hand it out again.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port: bound } = server.address() as net.AddressInfo;
        server.close(() => resolve(bound));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Waits until `port` accepts connections, up to 60 s: on a shared 2-core machine a Node process
 * has been seen to take 15–20 s of wall-clock time to start.
 */
export async function waitForPort(port: number, child: ChildProcess | null): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (child !== null && child.exitCode !== null)
      throw new Error(`process exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} did not open within 60 s`);
}

export function pinned(core: string, command: string, args: string[]): ChildProcess {
  const child = spawn('taskset', ['-c', core, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 4096) stderr = stderr.slice(-4096);
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && code !== null && signal === null)
      process.stderr.write(`${command} exited ${code}: ${stderr}\n`);
  });
  child.stdout?.resume();
  return child;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Writes a SidecarConfig for the app on `appPort`, inbound on `inboundPort` (admin and outbound
 * on free ports), plus `policies`' sections, as JSON into `dir`; returns the file's path.
 */
export async function writeSidecarConfig(
  dir: string,
  name: string,
  ports: { readonly app: number; readonly inbound: number },
  logLevel: string,
  policies: object,
): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  const config = {
    version: name,
    app: { host: '127.0.0.1', port: ports.app },
    listeners: { inbound: ports.inbound, admin: await freePort(), outbound: await freePort() },
    logLevel,
    ...policies,
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** The sidecar binary pinned to `core`, enforcing the config in `file`. */
export function startSidecarBinary(core: string, file: string): ChildProcess {
  return pinned(core, process.execPath, [...sidecarNodeFlags, sidecarBinary, '--config', file]);
}

/** A redis-server without persistence on `port`, pinned to `core`. */
export function startRedis(core: string, port: number): ChildProcess {
  return pinned(core, 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
}
