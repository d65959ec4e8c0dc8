/**
 * The Raft transport over real sockets on 127.0.0.1: delivery between three members, and every
 * way a frame can be refused (wrong secret, wrong group, non-member, garbage, oversized, replay,
 * silence), reconnection after a restart, bounded queues, and the partition filter.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeHello,
  encodeFrame,
  encodeHello,
  encodeSigned,
  FrameDecoder,
  FrameKind,
  fromWireValue,
  markedNonce,
  NONCE_BYTES,
  openSigned,
  RaftTransport,
  readSecretFile,
  TransportError,
  type DropReason,
  type RaftTransportOptions,
} from '../src/raft-transport/index.js';

const DEADLINE_MS = 4000;
const GROUP = 'shop/orders';
const SECRET = Buffer.from('a group secret of at least sixteen bytes');

/** The test's message type; `decode` validates it like the driver's decoder would. */
interface TestMessage {
  readonly text: string;
  readonly data?: Uint8Array;
}

function decode(payload: unknown): TestMessage {
  if (typeof payload !== 'object' || payload === null) throw new Error('not an object');
  const { text, data } = payload as Record<string, unknown>;
  if (typeof text !== 'string') throw new Error('text must be a string');
  if (data !== undefined && !(data instanceof Uint8Array)) throw new Error('data must be bytes');
  return data === undefined ? { text } : { text, data };
}

/** Items in arrival order; `next()` waits for the next one, failing after a deadline. */
class Inbox<T> {
  private readonly items: T[] = [];
  private waiters: Array<(item: T) => void> = [];

  push = (item: T): void => {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  };

  next(what: string): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}`)),
        DEADLINE_MS,
      );
      this.waiters.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }

  /** Waits for the first item matching `match`, discarding the others. */
  async find(what: string, match: (item: T) => boolean): Promise<T> {
    for (;;) {
      const item = await this.next(what);
      if (match(item)) return item;
    }
  }

  size(): number {
    return this.items.length;
  }
}

interface Node {
  readonly id: string;
  readonly transport: RaftTransport<TestMessage>;
  readonly address: string;
  readonly messages: Inbox<{ from: string; text: string }>;
  readonly drops: Inbox<{ reason: DropReason; peer: string | undefined }>;
  readonly links: Inbox<string>;
}

const started: RaftTransport<TestMessage>[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(started.splice(0).map((t) => t.close()));
});

async function start(
  id: string,
  options: Partial<RaftTransportOptions<TestMessage>> = {},
): Promise<Node> {
  const messages = new Inbox<{ from: string; text: string }>();
  const drops = new Inbox<{ reason: DropReason; peer: string | undefined }>();
  const links = new Inbox<string>();
  const transport = await RaftTransport.start<TestMessage>({
    group: GROUP,
    id,
    secret: SECRET,
    listen: { host: '127.0.0.1', port: 0 },
    peers: [],
    decode,
    backoff: { baseMs: 5, capMs: 50 },
    onDrop: (reason, peer) => drops.push({ reason, peer }),
    onPeerState: (peer, state) => links.push(`${peer} ${state}`),
    ...options,
  });
  started.push(transport);
  transport.onMessage((message, from) => messages.push({ from, text: message.text }));
  const address = `127.0.0.1:${transport.address().port}`;
  return { id, transport, address, messages, drops, links };
}

function mesh(nodes: readonly Node[]): void {
  const peers = nodes.map((n) => ({ id: n.id, address: n.address }));
  for (const node of nodes) node.transport.updatePeers(peers);
}

async function threeNodes(): Promise<[Node, Node, Node]> {
  const nodes = [await start('a'), await start('b'), await start('c')] as [Node, Node, Node];
  mesh(nodes);
  return nodes;
}

/** A raw client: connects, reads the hello, and gives the nonce and the socket. */
async function rawClient(
  address: string,
): Promise<{ socket: Socket; nonce: Buffer; closed: Promise<void> }> {
  const [host, port] = address.split(':');
  const socket = connect({ host, port: Number(port) });
  sockets.push(socket);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  const decoder = new FrameDecoder(64);
  const nonce = await new Promise<Buffer>((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => {
      const hello = decoder.push(chunk).frames[0];
      const value = hello && decodeHello(hello);
      if (value) resolve(Buffer.from(value));
      else reject(new Error('no hello'));
    });
  });
  return { socket, nonce, closed };
}

const key = createSecretKey(SECRET);

describe('RaftTransport', () => {
  it('delivers messages among three members, bytes included', async () => {
    const nodes = await threeNodes();
    for (const from of nodes) {
      for (const to of nodes) {
        if (from !== to) from.transport.send(to.id, { text: `${from.id}->${to.id}` });
      }
    }
    for (const node of nodes) {
      const got = [await node.messages.next('first'), await node.messages.next('second')];
      const expected = nodes.filter((n) => n !== node).map((n) => `${n.id}->${node.id}`);
      expect(got.map((m) => m.text).sort()).toEqual(expected.sort());
      expect(got.every((m) => m.text.startsWith(m.from))).toBe(true);
    }
    const [a, b] = nodes;
    const received = new Promise<TestMessage>((resolve) => b.transport.onMessage(resolve));
    a.transport.send('b', { text: 'bytes', data: new Uint8Array([0, 1, 2, 255]) });
    expect([...((await received).data ?? [])]).toEqual([0, 1, 2, 255]);
    expect(a.transport.counters().sent).toBe(3);
    expect(b.transport.counters().received).toBe(3);
    expect(Object.values(b.transport.counters().dropped).every((n) => n === 0)).toBe(true);
  });

  it('keeps the order of a burst sent in one tick (batched into shared frames)', async () => {
    const a = await start('a', { maxQueue: 3000 });
    const b = await start('b');
    mesh([a, b]);
    for (let i = 0; i < 3000; i++) a.transport.send('b', { text: `m${i}` });
    for (let i = 0; i < 3000; i++) expect((await b.messages.next(`m${i}`)).text).toBe(`m${i}`);
    expect(b.transport.counters().received).toBe(3000);
    expect(a.transport.counters().dropped['queue-full']).toBe(0);
  });

  it('keeps the newest messages of a burst larger than the queue, in order', async () => {
    const [a, b] = await threeNodes(); // default queue: 1024 messages per peer
    for (let i = 0; i < 3000; i++) a.transport.send('b', { text: `m${i}` });
    expect(a.transport.counters().dropped['queue-full']).toBe(3000 - 1024);
    for (let i = 3000 - 1024; i < 3000; i++) {
      expect((await b.messages.next(`m${i}`)).text).toBe(`m${i}`);
    }
  });

  it('follows membership: a removed peer is no longer dialed nor heard', async () => {
    const [a, b, c] = await threeNodes();
    a.transport.updatePeers([{ id: 'c', address: c.address }]);
    expect(a.transport.peers()).toEqual(['c']);
    a.transport.send('b', { text: 'to a removed peer' });
    expect(await a.drops.next('outbound')).toEqual({ reason: 'unknown-peer', peer: 'b' });
    b.transport.send('a', { text: 'from a removed peer' });
    expect(await a.drops.next('inbound')).toEqual({ reason: 'unknown-peer', peer: 'b' });
    c.transport.send('a', { text: 'still a member' });
    expect(await a.messages.next('c')).toEqual({ from: 'c', text: 'still a member' });
  });

  it('drops and counts a sender with the wrong secret, and keeps serving the others', async () => {
    const [a, b] = await threeNodes();
    const impostor = await start('c', { secret: Buffer.from('not the group secret, but long') });
    impostor.transport.updatePeers([{ id: 'a', address: a.address }]);
    impostor.transport.send('a', { text: 'let me in' });
    expect(await a.drops.next('a drop')).toEqual({ reason: 'bad-mac', peer: undefined });
    b.transport.send('a', { text: 'still served' });
    expect(await a.messages.next('b')).toEqual({ from: 'b', text: 'still served' });
    expect(a.messages.size()).toBe(0);
    expect(a.transport.counters().dropped['bad-mac']).toBeGreaterThanOrEqual(1);
  });

  it('drops and counts a message from a non-member holding the secret', async () => {
    const [a] = await threeNodes();
    const outsider = await start('d');
    outsider.transport.updatePeers([{ id: 'a', address: a.address }]);
    outsider.transport.send('a', { text: 'from outside' });
    expect(await a.drops.next('a drop')).toEqual({ reason: 'unknown-peer', peer: 'd' });
    // Once it becomes a member, the same connection delivers.
    a.transport.updatePeers([{ id: 'd', address: outsider.address }]);
    outsider.transport.send('a', { text: 'now a member' });
    expect(await a.messages.next('d')).toEqual({ from: 'd', text: 'now a member' });
  });

  it('drops a member of another group with the same secret', async () => {
    const [a] = await threeNodes();
    const stranger = await start('b', { group: 'shop/payments' });
    stranger.transport.updatePeers([{ id: 'a', address: a.address }]);
    stranger.transport.send('a', { text: 'wrong group' });
    expect(await a.drops.next('a drop')).toEqual({ reason: 'wrong-group', peer: undefined });
  });

  it('closes connections that send garbage, counts them, and keeps serving', async () => {
    const [a, b] = await threeNodes();
    const http = await rawClient(a.address);
    http.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'); // reads as a 1.2 GB length
    await http.closed;
    expect(await a.drops.next('oversized')).toEqual({ reason: 'oversized', peer: undefined });

    const badKind = await rawClient(a.address);
    badKind.socket.write(encodeFrame(FrameKind.hello, Buffer.alloc(17)));
    await badKind.closed;
    expect((await a.drops.next('malformed')).reason).toBe('malformed');

    const forged = await rawClient(a.address);
    forged.socket.write(encodeFrame(FrameKind.auth, Buffer.alloc(80, 1)));
    await forged.closed;
    expect((await a.drops.next('bad-mac')).reason).toBe('bad-mac');

    // Before authenticating, a client cannot even announce a large frame.
    const anonymous = await rawClient(a.address);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(100_000, 0);
    header[4] = FrameKind.auth;
    anonymous.socket.write(header);
    await anonymous.closed;
    expect((await a.drops.next('oversized auth')).reason).toBe('oversized');

    b.transport.send('a', { text: 'after the garbage' });
    expect(await a.messages.next('b')).toEqual({ from: 'b', text: 'after the garbage' });
    // Once authenticated, frames up to the full bound pass.
    const big = new Uint8Array(1 << 20).fill(9);
    const received = new Promise<TestMessage>((resolve) => a.transport.onMessage(resolve));
    b.transport.send('a', { text: 'big', data: big });
    expect((await received).data?.byteLength).toBe(1 << 20);
  });

  it('refuses an oversized frame from its header, before buffering it', async () => {
    const a = await start('a', { maxFrameBytes: 1024 });
    const client = await rawClient(a.address);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(1025, 0);
    header[4] = FrameKind.message;
    client.socket.write(header);
    await client.closed;
    expect(await a.drops.next('oversized')).toEqual({ reason: 'oversized', peer: undefined });
    // And the sending side refuses to build one.
    a.transport.updatePeers([{ id: 'b', address: '127.0.0.1:1' }]);
    expect(() => a.transport.send('b', { text: 'x'.repeat(2000) })).toThrow(TransportError);
  });

  it('speaks v1 (JSON) to and from a v1 member, v2 (binary) to a v2 one', async () => {
    // A v1 dialer: v1 hello rules, v1 frames; the v2 listener accepts them.
    const a = await start('a');
    a.transport.updatePeers([{ id: 'old', address: '127.0.0.1:1' }]);
    const client = await rawClient(a.address);
    const envelope = { group: GROUP, from: 'old', to: 'a' };
    client.socket.write(
      Buffer.concat([
        encodeSigned(key, client.nonce, { ...envelope, seq: 1 }),
        encodeSigned(key, client.nonce, { ...envelope, seq: 2 }, ['{"text":"from v1"}']),
      ]),
    );
    expect(await a.messages.next('from v1')).toEqual({ from: 'old', text: 'from v1' });

    // Listeners that record the frames a dialer sends them, announcing v1 or v2.
    const listen = async (nonce: Buffer) => {
      const frames = new Inbox<{ version: number; payloads: TestMessage[] }>();
      const server = createServer((socket) => {
        sockets.push(socket);
        const decoder = new FrameDecoder(1 << 20);
        socket.on('data', (chunk: Buffer) => {
          for (const frame of decoder.push(chunk).frames) {
            const opened = openSigned(key, nonce, frame);
            if (!opened.ok || opened.payloads === undefined) continue;
            const payloads = opened.payloads.map((payload) =>
              opened.version === 2
                ? decode(fromWireValue(JSON.parse((payload as Buffer).toString('utf8'))))
                : decode(fromWireValue(payload)),
            );
            frames.push({ version: opened.version, payloads });
          }
        });
        socket.write(encodeHello(nonce));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      return { frames, server, address: `127.0.0.1:${port}` };
    };
    const v1 = await listen(Buffer.alloc(16, 7));
    const v2 = await listen(markedNonce(randomBytes(16)));
    try {
      a.transport.updatePeers([
        { id: 'v1', address: v1.address },
        { id: 'v2', address: v2.address },
      ]);
      const message = { text: 'hi', data: new Uint8Array([0, 255]) };
      a.transport.send('v1', message);
      a.transport.send('v2', message);
      expect(await v1.frames.next('v1 frame')).toEqual({ version: 1, payloads: [message] });
      expect(await v2.frames.next('v2 frame')).toEqual({ version: 2, payloads: [message] });
    } finally {
      v1.server.close();
      v2.server.close();
    }
  });

  it('rejects a replayed frame on its connection and on a new one', async () => {
    const a = await start('a');
    a.transport.updatePeers([{ id: 'b', address: '127.0.0.1:1' }]);
    const first = await rawClient(a.address);
    const envelope = { group: GROUP, from: 'b', to: 'a' };
    const auth = encodeSigned(key, first.nonce, { ...envelope, seq: 1 });
    const message = encodeSigned(key, first.nonce, { ...envelope, seq: 2 }, ['{"text":"once"}']);
    first.socket.write(Buffer.concat([auth, message]));
    expect(await a.messages.next('once')).toEqual({ from: 'b', text: 'once' });
    first.socket.write(message);
    await first.closed;
    expect(await a.drops.next('replay')).toEqual({ reason: 'replay', peer: 'b' });

    const second = await rawClient(a.address);
    second.socket.write(Buffer.concat([auth, message]));
    await second.closed;
    expect(await a.drops.next('bad-mac')).toEqual({ reason: 'bad-mac', peer: undefined });
    expect(a.transport.counters().received).toBe(1);
  });

  it('closes a connection that never authenticates', async () => {
    const a = await start('a', { handshakeTimeoutMs: 50 });
    const silent = await rawClient(a.address);
    await silent.closed;
    expect(await a.drops.next('timeout')).toEqual({ reason: 'handshake-timeout', peer: undefined });
  });

  it('reconnects after a peer restarts and delivers what was queued meanwhile', async () => {
    const [a, b] = await threeNodes();
    a.transport.send('b', { text: 'before' });
    expect(await b.messages.next('before')).toEqual({ from: 'a', text: 'before' });
    const port = b.transport.address().port;
    await b.transport.close();
    // Until a sees the connection end, a message could still go to the dead socket (and be lost,
    // which Raft tolerates); from then on it waits in the queue.
    await a.links.find('a loses b', (event) => event === 'b disconnected');
    a.transport.send('b', { text: 'while down' });
    const restarted = await start('b', { listen: { host: '127.0.0.1', port } });
    mesh([a, restarted]);
    expect(await restarted.messages.next('queued')).toEqual({ from: 'a', text: 'while down' });
    a.transport.send('b', { text: 'after' });
    expect(await restarted.messages.next('after')).toEqual({ from: 'a', text: 'after' });
    expect(a.transport.counters().connected).toBeGreaterThanOrEqual(2);
  });

  it('bounds the queue of an unreachable peer, dropping the oldest', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const a = await start('a', { maxQueue: 2 });
    a.transport.updatePeers([{ id: 'b', address: `127.0.0.1:${closedPort}` }]);
    for (let i = 0; i < 5; i++) a.transport.send('b', { text: `m${i}` });
    expect(a.transport.counters().dropped['queue-full']).toBe(3);
    // The two newest are still queued: a listener appearing on that port gets m3 and m4.
    const b = await start('b', { listen: { host: '127.0.0.1', port: closedPort } });
    b.transport.updatePeers([{ id: 'a', address: a.address }]);
    expect((await b.messages.next('m3')).text).toBe('m3');
    expect((await b.messages.next('m4')).text).toBe('m4');
  });

  it('redials a peer that keeps silent while sent to, and never one that answers', async () => {
    // A listener that says hello, takes everything and answers nothing: the connection of a
    // network path that lost its packets, as far as the sender can tell.
    let connections = 0;
    const blackHole = createServer((socket) => {
      connections++;
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.resume();
      socket.write(encodeHello(markedNonce(randomBytes(NONCE_BYTES))));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as { port: number }).port;
    const a = await start('a', { silenceTimeoutMs: 100 });
    a.transport.updatePeers([{ id: 'b', address: `127.0.0.1:${port}` }]);
    const pacing = setInterval(() => a.transport.send('b', { text: 'anyone?' }), 20);
    try {
      await a.links.find('a redials b', (event) => event === 'b disconnected');
      await a.links.find('a reconnects to b', (event) => event === 'b connected');
    } finally {
      clearInterval(pacing);
      blackHole.close();
    }
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(a.transport.counters().redialed).toBeGreaterThanOrEqual(1);

    // Two members that answer each other for 5 silence timeouts keep their first connections.
    const c = await start('c', { silenceTimeoutMs: 100 });
    const d = await start('d', { silenceTimeoutMs: 100 });
    mesh([c, d]);
    d.transport.onMessage((message, from) =>
      d.transport.send(from, { text: `re: ${message.text}` }),
    );
    for (let round = 0; round < 25; round++) {
      c.transport.send('d', { text: `ping ${round}` });
      expect(await c.messages.next(`answer ${round}`)).toEqual({
        from: 'd',
        text: `re: ping ${round}`,
      });
      await new Promise((resolve) => setTimeout(resolve, 20)); // paces the traffic over 500 ms
    }
    expect(c.transport.counters()).toMatchObject({ redialed: 0, connected: 1, disconnected: 0 });
    expect(d.transport.counters()).toMatchObject({ redialed: 0, connected: 1, disconnected: 0 });
  });

  it('partitions both ways with the filter, and heals', async () => {
    const [a, b, c] = await threeNodes();
    const cut = (x: string, y: string): boolean =>
      (x === 'a' && y === 'b') || (x === 'b' && y === 'a');
    a.transport.setFilter((from, to) => (cut(from, to) ? 'drop' : 'pass'));
    a.transport.send('b', { text: 'a->b cut' });
    expect(await a.drops.next('outbound')).toEqual({ reason: 'filtered', peer: 'b' });
    b.transport.send('a', { text: 'b->a cut' });
    expect(await a.drops.next('inbound')).toEqual({ reason: 'filtered', peer: 'b' });
    a.transport.send('c', { text: 'a->c passes' });
    expect(await c.messages.next('a->c')).toEqual({ from: 'a', text: 'a->c passes' });
    c.transport.send('a', { text: 'c->a passes' });
    expect(await a.messages.next('c->a')).toEqual({ from: 'c', text: 'c->a passes' });
    a.transport.setFilter(undefined);
    b.transport.send('a', { text: 'healed' });
    expect(await a.messages.next('healed')).toEqual({ from: 'b', text: 'healed' });
    expect(b.messages.size()).toBe(0);
    expect(a.transport.counters().dropped.filtered).toBe(2);
  });

  it('refuses a weak secret and bad peers; reads a secret file without its newline', async () => {
    await expect(start('a', { secret: Buffer.from('short') })).rejects.toMatchObject({
      code: 'PALISADE_TRANSPORT_WEAK_SECRET',
    });
    const a = await start('a');
    expect(() => a.transport.updatePeers([{ id: 'b', address: 'nohost' }])).toThrow(
      expect.objectContaining({ code: 'PALISADE_TRANSPORT_INVALID_OPTIONS' }),
    );
    const dir = await mkdtemp(join(tmpdir(), 'palisade-secret-'));
    try {
      await writeFile(join(dir, 'secret'), `${SECRET.toString()}\n`);
      expect(Buffer.from(await readSecretFile(join(dir, 'secret'))).equals(SECRET)).toBe(true);
      const error = await readSecretFile(join(dir, 'missing')).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'PALISADE_TRANSPORT_SECRET_UNREADABLE' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
