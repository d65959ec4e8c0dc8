/**
 * A real `redis-server` (Debian's package) for the integration tests: its own process on a free
 * loopback port, no persistence (`--save '' --appendonly no`), started and stopped by the test.
 * The test can also kill it (SIGKILL, as a crash), freeze it (SIGSTOP: a hung Redis whose socket
 * stays open) and restart it on the same port (empty, as after a crash without persistence).
 * `REDIS_SERVER` overrides the binary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './sidecar-process.js';

/** A running Redis the test controls. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** SIGKILL, and resolve once the process is gone. */
  kill(): Promise<void>;
  /** SIGSTOP: the process stays, connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Starts a fresh process on the same port (after `kill`). */
  restart(): Promise<void>;
  /** Stops it for good (SIGKILL; nothing to persist). */
  stop(): Promise<void>;
}

const READY = /Ready to accept connections/;
const START_DEADLINE_MS = 10_000;

/** Starts a redis-server on a free loopback port and waits until it accepts connections. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child = await spawnRedis(port);
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: async () => {
      await killProcess(child);
    },
    pause: () => {
      child.kill('SIGSTOP');
    },
    resume: () => {
      child.kill('SIGCONT');
    },
    restart: async () => {
      await killProcess(child);
      child = await spawnRedis(port);
    },
    stop: async () => {
      child.kill('SIGCONT');
      await killProcess(child);
    },
  };
  return server;
}

function spawnRedis(port: number): Promise<ChildProcess> {
  const binary = process.env['REDIS_SERVER'] ?? 'redis-server';
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--loglevel',
    'notice',
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`redis-server did not become ready within ${START_DEADLINE_MS} ms:\n${output}`),
      );
    }, START_DEADLINE_MS);
    const onData = (data: Buffer): void => {
      output += data.toString();
      if (READY.test(output)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining so the pipe never fills
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (data: Buffer) => (output += data.toString()));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new Error(`could not start ${binary} (apt-get install -y redis-server)`, { cause: error }),
      );
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited early (code ${code}, signal ${signal}):\n${output}`));
    });
  });
}

function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
