/**
 * Load generation for bench:raft: keep-alive connections over raw sockets, one request in flight
 * per connection, requests built as strings and answers parsed just far enough (status line,
 * `Content-Length`, or one RESP line). Node's `http` client costs ~0.3 ms of CPU per request, as
 * much as the server side it measures, on a machine where client and servers share two cores; this
 * costs a fraction of that, so the figures say more about the server.
 *
 * The same connection class speaks to Redis (RESP), the throughput and latency baseline: a
 * durable single-node `SET key holder NX PX ttl` (AOF with `appendfsync always`: one fsync per
 * event-loop turn, group commit as our WAL) driven the same way, in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';

/** Parses one complete answer at the start of `buffer`; its length and outcome, or undefined. */
type AnswerParser = (buffer: Buffer) => { length: number; status: number } | undefined;

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** HTTP/1.1: status from the status line, body length from `Content-Length` (all we send). */
export const parseHttpAnswer: AnswerParser = (buffer) => {
  const headerEnd = buffer.indexOf(HEADER_END);
  if (headerEnd < 0) return undefined;
  const head = buffer.toString('latin1', 0, headerEnd);
  const length = headerEnd + 4 + Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
  if (buffer.byteLength < length) return undefined;
  return { length, status: Number(head.slice(9, 12)) };
};

/** RESP, one simple answer: `+OK` → 200, `$-1` (NX refused) → 409, `-ERR` → 500. */
export const parseRespAnswer: AnswerParser = (buffer) => {
  const end = buffer.indexOf('\r\n');
  if (end < 0) return undefined;
  const first = buffer[0];
  return { length: end + 2, status: first === 0x2b ? 200 : first === 0x24 ? 409 : 500 };
};

/**
 * One keep-alive connection with at most one request in flight. A connection the server closed
 * while idle (its keep-alive timeout: an open loop at a low rate leaves most of its pool idle for
 * seconds) is opened again by the next `send`, as an HTTP client's pool would; writing to the
 * closed socket would never be answered.
 */
export class LoadConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: ((status: number) => void) | undefined;
  private socket: Socket;
  private constructor(
    socket: Socket,
    private readonly port: number,
    private readonly parse: AnswerParser,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  static open(port: number, parse: AnswerParser): Promise<LoadConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new LoadConnection(socket, port, parse));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one request; resolves with its status (0: connection failed). */
  send(request: string): Promise<number> {
    if (this.socket.destroyed) {
      this.buffer = Buffer.alloc(0);
      this.socket = connect(this.port, '127.0.0.1'); // writes queue until it is connected
      this.attach(this.socket);
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(request);
    });
  }

  private attach(socket: Socket): void {
    socket.setNoDelay(true);
    // Events of a socket already replaced concern no request of this connection.
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.onData(chunk);
    });
    socket.on('error', () => {
      if (socket === this.socket) this.settle(0);
    });
    socket.on('close', () => {
      if (socket === this.socket) this.settle(0);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.byteLength === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const answer = this.parse(this.buffer);
    if (answer === undefined) return;
    this.buffer = this.buffer.subarray(answer.length);
    this.settle(answer.status);
  }

  private settle(status: number): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(status);
  }
}

/** Builds the i-th request of a load for worker `w`. */
export type RequestMaker = (worker: number, i: number) => string;

/** `POST /v1/leases/{name}/acquire {holder, ttl}` as raw HTTP/1.1. */
export function leaseAcquire(port: number, name: string, holder: string, ttlMs: number): string {
  const body = `{"holder":"${holder}","ttl":${ttlMs}}`;
  return (
    `POST /v1/leases/${name}/acquire HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`
  );
}

/** `SET {name} {holder} NX PX {ttl}` as RESP. */
export function redisSetNx(name: string, holder: string, ttlMs: number): string {
  const args = ['SET', name, holder, 'NX', 'PX', String(ttlMs)];
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Outcome of a load run: answered 200/409 (`ok`), anything else (`errors`), client CPU. */
export interface LoadResult {
  readonly opsPerSecond: number;
  readonly ok: number;
  readonly errors: number;
  readonly clientCpuUsPerOp: number;
}

/** Closed loop: `connections` workers, each sending its next request when the last answers. */
export async function closedLoop(
  port: number,
  parse: AnswerParser,
  connections: number,
  seconds: number,
  make: RequestMaker,
): Promise<LoadResult> {
  const pool = await Promise.all(
    Array.from({ length: connections }, () => LoadConnection.open(port, parse)),
  );
  let ok = 0;
  let errors = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    pool.map(async (connection, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const status = await connection.send(make(w, i));
        if (status === 200 || status === 409) ok++;
        else errors++;
        if (status === 0) return;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  for (const connection of pool) connection.close();
  return {
    opsPerSecond: ok / elapsed,
    ok,
    errors,
    clientCpuUsPerOp: (used.user + used.system) / Math.max(1, ok + errors),
  };
}

/**
 * Open-loop latency: p50/p99 counted from each request's scheduled send time (the figure), and
 * from its actual send time (what the server and the network took, without this client's
 * lateness).
 */
export interface RateResult {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /**
   * How late this client sent the requests (sent − due, ms), included in p50/p99: Node's timers
   * have a resolution of 1 ms and fire late on a busy host, so part of every figure above is
   * the client's own schedule, not the server.
   */
  readonly lagP50: number;
  readonly lagP99: number;
  /** Latency from the actual send (answered − sent, ms): p50/p99 without the client's lateness. */
  readonly sentP50: number;
  readonly sentP99: number;
  readonly ok: number;
  readonly total: number;
}

/**
 * Open loop at a fixed rate: request i is due at start + i/rate, sent on a free connection of the
 * pool (opened up front, so no connect is timed); latency counts from the due time, so a stall of
 * the server or of this client is not hidden (coordinated omission).
 */
export async function openLoop(
  port: number,
  parse: AnswerParser,
  rate: number,
  seconds: number,
  make: RequestMaker,
  poolSize = 64,
): Promise<RateResult> {
  const free = await Promise.all(
    Array.from({ length: poolSize }, () => LoadConnection.open(port, parse)),
  );
  const all = [...free];
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const fromSent: number[] = [];
  const lags: number[] = [];
  let ok = 0;
  const backlog: number[] = [];
  const start = performance.now() + 20;
  let next = 0;
  const fire = (i: number, connection: LoadConnection): void => {
    const due = start + (i * 1000) / rate;
    const sent = performance.now();
    lags.push(sent - due);
    void connection.send(make(0, i)).then((status) => {
      const answered = performance.now();
      latencies.push(answered - due);
      fromSent.push(answered - sent);
      if (status === 200 || status === 409) ok++;
      const waiting = backlog.shift();
      if (waiting !== undefined) fire(waiting, connection);
      else free.push(connection);
      sendDue();
    });
  };
  /**
   * Sends every request due by now (never one early). Called by the timer and after each
   * answer: Node's timers fire on whole milliseconds of the event loop's clock (a request can
   * wait up to ~2 ms for its timer), while at 1,000 ops/s an answer arrives about as often as a
   * request falls due, so this sends most of them closer to their due time at no extra cost.
   */
  const sendDue = (): void => {
    const now = performance.now();
    while (next < total && start + (next * 1000) / rate <= now) {
      const connection = free.pop();
      if (connection) fire(next, connection);
      else backlog.push(next);
      next++;
    }
  };
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      sendDue();
      if (next < total) {
        setTimeout(pump, Math.max(0, start + (next * 1000) / rate - performance.now()));
      } else resolve();
    };
    pump();
  });
  while (latencies.length < total) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const connection of all) connection.close();
  return {
    rate,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    lagP50: percentile(lags, 50),
    lagP99: percentile(lags, 99),
    sentP50: percentile(fromSent, 50),
    sentP99: percentile(fromSent, 99),
    ok,
    total,
  };
}

/** Latency of requests sent one at a time on one connection: no schedule, no queue, no timer. */
export async function oneAtATime(
  port: number,
  parse: AnswerParser,
  count: number,
  make: RequestMaker,
): Promise<{ p50: number; p99: number; ok: number; total: number }> {
  const connection = await LoadConnection.open(port, parse);
  const latencies: number[] = [];
  let ok = 0;
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    const status = await connection.send(make(0, i));
    latencies.push(performance.now() - sent);
    if (status === 200 || status === 409) ok++;
  }
  connection.close();
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ok, total: count };
}

/** A durable redis-server (AOF, `appendfsync always`) on a free loopback port, in `dir`. */
export async function startDurableRedis(
  dir: string,
): Promise<{ port: number; pid: number; stop(): void }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const child: ChildProcess = spawn(
    process.env.REDIS_SERVER ?? 'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
      ...['--appendonly', 'yes', '--appendfsync', 'always'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  return { port, pid: child.pid as number, stop: () => child.kill('SIGKILL') };
}
