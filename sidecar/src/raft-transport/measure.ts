/**
 * Measures transport throughput on loopback: one member sends `count` messages to another and
 * the clock stops when the last one is delivered (authenticated, parsed, validated). Not run by
 * the tests; run after `npx tsc -b` with
 *
 *     node -e "import('./sidecar/dist/raft-transport/measure.js').then((m) => m.main())"
 */
import { randomBytes } from 'node:crypto';
import { RaftTransport } from './transport.js';

/** One measured configuration. */
export interface TransportMeasurement {
  /** `json`: the messages' v1 JSON (bytes as base64) in v2 frames; `binary`: raw bytes. */
  readonly format: 'json' | 'binary';
  readonly messages: number;
  readonly payloadBytes: number;
  readonly messagesPerSecond: number;
  readonly megabytesPerSecond: number;
}

interface BenchMessage {
  readonly n: number;
  readonly data: Uint8Array;
}

function decode(payload: unknown): BenchMessage {
  const { n, data } = payload as { n?: unknown; data?: unknown };
  if (typeof n !== 'number' || !(data instanceof Uint8Array)) throw new Error('bad message');
  return { n, data };
}

/** The binary form (v2 frames): `[n f64 LE][data]`, as a driver's codec would carry bytes. */
const codec = {
  encode(message: BenchMessage): Uint8Array {
    const bytes = Buffer.allocUnsafe(8 + message.data.byteLength);
    bytes.writeDoubleLE(message.n, 0);
    bytes.set(message.data, 8);
    return bytes;
  },
  decode(bytes: Buffer): BenchMessage {
    if (bytes.byteLength < 8) throw new Error('bad message');
    return { n: bytes.readDoubleLE(0), data: new Uint8Array(bytes.subarray(8)) };
  },
};

/** Sends `count` messages carrying `payloadBytes` of bytes each from one member to another. */
export async function measureTransport(
  count: number,
  payloadBytes: number,
  format: 'json' | 'binary' = 'binary',
): Promise<TransportMeasurement> {
  const secret = randomBytes(32);
  const common = {
    group: 'bench',
    secret,
    decode,
    codec: format === 'binary' ? codec : undefined,
    peers: [],
    maxQueue: count,
  };
  const a = await RaftTransport.start({
    ...common,
    id: 'a',
    listen: { host: '127.0.0.1', port: 0 },
  });
  const b = await RaftTransport.start({
    ...common,
    id: 'b',
    listen: { host: '127.0.0.1', port: 0 },
  });
  try {
    a.updatePeers([{ id: 'b', address: `127.0.0.1:${b.address().port}` }]);
    b.updatePeers([{ id: 'a', address: `127.0.0.1:${a.address().port}` }]);
    const data = new Uint8Array(payloadBytes).fill(1);
    // Warm up: the connection is up once the first message arrives.
    await new Promise<void>((resolve) => {
      b.onMessage(() => resolve());
      a.send('b', { n: -1, data });
    });
    let received = 0;
    const done = new Promise<void>((resolve) => {
      b.onMessage(() => {
        if (++received === count) resolve();
      });
    });
    const started = performance.now();
    for (let n = 0; n < count; n++) a.send('b', { n, data });
    await done;
    const seconds = (performance.now() - started) / 1000;
    return {
      format,
      messages: count,
      payloadBytes,
      messagesPerSecond: Math.round(count / seconds),
      megabytesPerSecond: Number(((count * payloadBytes) / seconds / 1e6).toFixed(1)),
    };
  } finally {
    await a.close();
    await b.close();
  }
}

/** Prints the figures of the decision record as a table. */
export async function main(): Promise<void> {
  const results: TransportMeasurement[] = [];
  for (const [count, size] of [
    [50_000, 64],
    [20_000, 1024],
    [500, 256 * 1024],
  ] as const) {
    for (const format of ['json', 'binary'] as const) {
      results.push(await measureTransport(count, size, format));
    }
  }
  console.table(results);
}
