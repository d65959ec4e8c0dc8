/**
 * The TCP transport between the sidecars of one Raft group (port 15010): a thin shell around the
 * wire format of wire.ts.
 *
 * Each member listens, and dials every peer once: messages to a peer go over the connection this
 * member dialed, messages from a peer arrive over the connection that peer dialed. Per peer there
 * is a bounded send queue (the oldest message is dropped when full: Raft tolerates loss, and the
 * newest heartbeat or append supersedes older ones) and a reconnect loop with capped exponential
 * backoff and jitter. `send` never blocks and never throws for network reasons.
 *
 * Messages go out in the binary frame format (v2) to a listener that announced it, in JSON (v1)
 * to an older one; the listener accepts both (see wire.ts), so members can be upgraded one by one.
 *
 * Every inbound frame is checked before it is believed: size bound before buffering, MAC before
 * parsing, then the header fields, the group, the sequence number, the recipient and the sender's
 * membership. Failures are dropped and counted by reason ({@link DropReason}); the connection is
 * closed for anything that is unauthenticated or malformed. The secret is held as a `KeyObject`
 * and never logged or put in an error.
 */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import { systemRandom, type Random } from '../core/random.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { TransportError } from './errors.js';
import {
  decodeHello,
  encodeHello,
  encodeSigned,
  encodeSignedV2,
  FrameDecoder,
  FrameKind,
  fromWireValue,
  listenerVersion,
  markedNonce,
  NONCE_BYTES,
  openSigned,
  toWireValue,
  V2_MESSAGE_OVERHEAD,
  type Frame,
} from './wire.js';

/** A member of the group as the transport needs it. */
export interface TransportPeer {
  readonly id: string;
  /** `host:port` or `[ipv6]:port`. */
  readonly address: string;
}

/** What a partition filter decides for traffic from `from` to `to`. */
export type FilterVerdict = 'pass' | 'drop';

/** A fault hook: called for every outbound message and every authenticated inbound one. */
export type TrafficFilter = (from: string, to: string) => FilterVerdict;

/** Why a frame, message or connection was dropped. */
export type DropReason =
  /** A frame longer than `maxFrameBytes` (connection closed). */
  | 'oversized'
  /** Not our protocol: bad kind, bad JSON, missing fields, sequence of kinds (connection closed). */
  | 'malformed'
  /** The MAC does not verify: wrong secret, tampering, or a replay on another connection. */
  | 'bad-mac'
  /** Authenticated but for another group (connection closed). */
  | 'wrong-group'
  /** Authenticated but addressed to another member (message dropped). */
  | 'wrong-recipient'
  /** From, or to, an id that is not a current peer (message dropped). */
  | 'unknown-peer'
  /** A sequence number out of order on its connection (connection closed). */
  | 'replay'
  /** Dropped by the partition filter. */
  | 'filtered'
  /** The peer's send queue was full; the oldest message was dropped. */
  | 'queue-full'
  /** An inbound connection did not authenticate in time (connection closed). */
  | 'handshake-timeout'
  /** Inbound connection refused: too many open. */
  | 'too-many-connections'
  /** The message handler threw. */
  | 'handler-error';

/** Counters for the metrics layer (`dropped{reason}` and friends). */
export interface TransportCounters {
  /** Messages written to a socket. */
  readonly sent: number;
  /** Messages handed to the handler. */
  readonly received: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Outbound connections that completed the handshake. */
  readonly connected: number;
  /** Outbound connection attempts that failed or ended. */
  readonly disconnected: number;
  /** Outbound connections dropped because the peer kept silent (`silenceTimeoutMs`). */
  readonly redialed: number;
}

/** Options of {@link RaftTransport.start}. */
export interface RaftTransportOptions<M> {
  readonly group: string;
  /** This member's id. */
  readonly id: string;
  /** The group secret (read by the caller from `secretFile`, see {@link readSecretFile}). */
  readonly secret: Uint8Array;
  /** Where to listen (port 15010 in production, 0 in tests). */
  readonly listen: { readonly host: string; readonly port: number };
  /** The other members (an entry with this member's id is ignored). */
  readonly peers: readonly TransportPeer[];
  /**
   * Validates an inbound payload (already converted back from JSON, bytes restored) and returns
   * the message; throw to reject it (counted as `malformed`, connection closed).
   */
  decode(payload: unknown): M;
  /**
   * The binary form of messages for v2 frames: `encode` must be the inverse of `decode`, and
   * `decode` validate like {@link decode} (throw to reject). Default: the v1 JSON as UTF-8.
   */
  readonly codec?: MessageCodec<M>;
  /** Largest frame accepted and sent (default 16 MiB). */
  readonly maxFrameBytes?: number;
  /** Messages queued per peer while it is unreachable or slow (default 1024). */
  readonly maxQueue?: number;
  readonly backoff?: BackoffPolicy;
  /** An inbound connection must authenticate, and an outbound one get its hello, within this. */
  readonly handshakeTimeoutMs?: number;
  /** Inbound connections open at once (default 64). */
  readonly maxInboundConnections?: number;
  /**
   * For request/response protocols such as Raft, where a live peer answers what it is sent:
   * when a peer has been sent messages for this long without a word back, the connection to it
   * is dropped and dialed anew. Without this, a connection whose packets were dropped (a network
   * partition, not a closed socket) recovers only when TCP retransmits, and TCP's backoff grows
   * to many seconds over a partition of a few. Default: off (one-way traffic is never redialed).
   */
  readonly silenceTimeoutMs?: number;
  /** Jitter source (default `Math.random`). */
  readonly random?: Random;
  /** Called on every drop, for metrics or debug logs. Never given the message content. */
  onDrop?(reason: DropReason, peer: string | undefined): void;
  /** Called when the outbound connection to a peer completes its handshake or ends. */
  onPeerState?(peer: string, state: 'connected' | 'disconnected'): void;
}

/** Encodes messages to bytes and validates bytes back into messages. */
export interface MessageCodec<M> {
  encode(message: M): Uint8Array;
  decode(bytes: Buffer): M;
}

/** A handler for delivered messages. */
export type MessageHandler<M> = (message: M, from: string) => void;

const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
const MINIMUM_SECRET_BYTES = 16;
/**
 * Bound on everything a v2 frame adds to its messages: length, kind, MAC, seq, three ids of at
 * most 253 UTF-16 units (3 UTF-8 bytes each) with their lengths, the count.
 */
const FRAME_OVERHEAD_BYTES = 5 + 32 + 8 + 3 * (2 + 3 * 253) + 2;
/** The same for a v1 frame (JSON envelope), where messages are separated by commas. */
const V1_FRAME_OVERHEAD_BYTES = 5 + 32 + 64 + 3 * 253 + 20;
/** Bound on the first frame of a connection, the `auth` frame (MAC + a small JSON header). */
const MAX_AUTH_FRAME_BYTES = 5 + 32 + 64 + 3 * 253 + 20;
/** Messages per frame at most: bounds the work of one inbound frame on the event loop. */
const MAX_BATCH_MESSAGES = 1024;

/** Reads a secret file (trailing newline trimmed); the content never appears in errors. */
export async function readSecretFile(path: string): Promise<Uint8Array> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    throw new TransportError(
      'PALISADE_TRANSPORT_SECRET_UNREADABLE',
      `cannot read the Raft secret file ${path}`,
      { cause: error },
    );
  }
  let end = content.byteLength;
  while (end > 0 && (content[end - 1] === 0x0a || content[end - 1] === 0x0d)) end--;
  return new Uint8Array(content.subarray(0, end));
}

/** Splits `host:port` / `[v6]:port`; throws `PALISADE_TRANSPORT_INVALID_OPTIONS`. */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TransportError('PALISADE_TRANSPORT_INVALID_OPTIONS', `bad peer address ${address}`);
  }
  if (match?.[1] !== undefined && isIP(host) !== 6) {
    throw new TransportError('PALISADE_TRANSPORT_INVALID_OPTIONS', `bad IPv6 address ${address}`);
  }
  return { host, port };
}

function zeroDrops(): Record<DropReason, number> {
  return {
    oversized: 0,
    malformed: 0,
    'bad-mac': 0,
    'wrong-group': 0,
    'wrong-recipient': 0,
    'unknown-peer': 0,
    replay: 0,
    filtered: 0,
    'queue-full': 0,
    'handshake-timeout': 0,
    'too-many-connections': 0,
    'handler-error': 0,
  };
}

interface Settings<M> {
  readonly group: string;
  readonly id: string;
  readonly key: KeyObject;
  readonly maxFrameBytes: number;
  readonly maxQueue: number;
  readonly backoff: BackoffPolicy;
  readonly handshakeTimeoutMs: number;
  readonly silenceTimeoutMs: number | undefined;
  readonly random: Random;
  readonly codec: MessageCodec<M>;
}

/** The default codec: a message's v1 JSON (bytes as base64) in UTF-8. */
function jsonCodec<M>(decode: (payload: unknown) => M): MessageCodec<M> {
  return {
    encode: (message) => Buffer.from(toJson(message), 'utf8'),
    decode: (bytes) => decode(fromWireValue(JSON.parse(bytes.toString('utf8')))),
  };
}

function toJson(message: unknown): string {
  const json = JSON.stringify(toWireValue(message)) as string | undefined;
  if (json === undefined) {
    throw new TransportError('PALISADE_TRANSPORT_MESSAGE_TOO_LARGE', 'the message is not JSON');
  }
  return json;
}

/** The transport; see the module comment. */
export class RaftTransport<M> {
  private readonly settings: Settings<M>;
  private readonly decodeMessage: (payload: unknown) => M;
  private readonly maxInbound: number;
  private readonly onDropHook: ((reason: DropReason, peer: string | undefined) => void) | undefined;
  private readonly onPeerState:
    ((peer: string, state: 'connected' | 'disconnected') => void) | undefined;
  private readonly server: Server;
  private readonly senders = new Map<string, PeerSender<M>>();
  private readonly inbound = new Set<Socket>();
  private handler: MessageHandler<M> | undefined;
  private filter: TrafficFilter | undefined;
  private closed = false;
  private readonly stats = { sent: 0, received: 0, connected: 0, disconnected: 0, redialed: 0 };
  private readonly drops = zeroDrops();

  private constructor(options: RaftTransportOptions<M>, key: KeyObject) {
    this.settings = {
      group: options.group,
      id: options.id,
      key,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxQueue: options.maxQueue ?? 1024,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      silenceTimeoutMs: options.silenceTimeoutMs,
      random: options.random ?? systemRandom,
      codec: options.codec ?? jsonCodec(options.decode),
    };
    this.decodeMessage = options.decode;
    this.maxInbound = options.maxInboundConnections ?? 64;
    this.onDropHook = options.onDrop;
    this.onPeerState = options.onPeerState;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Validates the options, listens, and starts dialing the peers. */
  static async start<M>(options: RaftTransportOptions<M>): Promise<RaftTransport<M>> {
    if (options.secret.byteLength < MINIMUM_SECRET_BYTES) {
      throw new TransportError(
        'PALISADE_TRANSPORT_WEAK_SECRET',
        `the Raft group secret must have at least ${MINIMUM_SECRET_BYTES} bytes`,
      );
    }
    for (const [name, value] of [
      ['maxFrameBytes', options.maxFrameBytes],
      ['maxQueue', options.maxQueue],
      ['maxInboundConnections', options.maxInboundConnections],
      ['handshakeTimeoutMs', options.handshakeTimeoutMs],
      ['silenceTimeoutMs', options.silenceTimeoutMs],
    ] as const) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
        throw new TransportError(
          'PALISADE_TRANSPORT_INVALID_OPTIONS',
          `${name} must be a positive integer, got ${value}`,
        );
      }
    }
    if (options.id.length === 0 || options.group.length === 0) {
      throw new TransportError('PALISADE_TRANSPORT_INVALID_OPTIONS', 'group and id are required');
    }
    const transport = new RaftTransport(options, createSecretKey(Buffer.from(options.secret)));
    transport.updatePeers(options.peers);
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error): void =>
        reject(
          new TransportError(
            'PALISADE_TRANSPORT_LISTEN_FAILED',
            `cannot listen on ${options.listen.host}:${options.listen.port}`,
            { cause: error },
          ),
        );
      transport.server.once('error', failed);
      transport.server.listen(options.listen.port, options.listen.host, () => {
        transport.server.off('error', failed);
        resolve();
      });
    }).catch(async (error: unknown) => {
      await transport.close();
      throw error;
    });
    return transport;
  }

  /** The address actually listened on (the port chosen when 0 was asked). */
  address(): { host: string; port: number } {
    const address = this.server.address();
    if (address === null || typeof address === 'string') {
      throw new TransportError('PALISADE_TRANSPORT_LISTEN_FAILED', 'not listening');
    }
    return { host: address.address, port: address.port };
  }

  /** Sets the handler of delivered messages (replacing any previous one). */
  onMessage(handler: MessageHandler<M>): void {
    this.handler = handler;
  }

  /** Installs (or, with undefined, removes) the partition filter. */
  setFilter(filter: TrafficFilter | undefined): void {
    this.filter = filter;
  }

  /**
   * Queues `message` for peer `to`, encoded once with the codec. Never blocks, never throws for
   * network reasons: a message that cannot be delivered is dropped and counted. Throws
   * `PALISADE_TRANSPORT_MESSAGE_TOO_LARGE` if the codec cannot encode it or it would make a frame
   * above `maxFrameBytes` (a caller bug: the core's size limits must be below it).
   */
  send(to: string, message: M): void {
    if (this.closed) return;
    if (this.filter?.(this.settings.id, to) === 'drop') return this.drop('filtered', to);
    const sender = this.senders.get(to);
    if (sender === undefined) return this.drop('unknown-peer', to);
    const bytes = this.settings.codec.encode(message);
    const frameBytes = bytes.byteLength + V2_MESSAGE_OVERHEAD + FRAME_OVERHEAD_BYTES;
    if (frameBytes > this.settings.maxFrameBytes) {
      throw new TransportError(
        'PALISADE_TRANSPORT_MESSAGE_TOO_LARGE',
        `message to ${to} needs ${frameBytes} bytes, more than ${this.settings.maxFrameBytes}`,
      );
    }
    sender.enqueue({ message, bytes });
  }

  /**
   * Follows a membership change: dials new peers, re-dials peers whose address changed, and
   * closes connections to removed ones (their queued messages are dropped). Inbound messages
   * from removed peers are dropped from then on.
   */
  updatePeers(peers: readonly TransportPeer[]): void {
    if (this.closed) return;
    const wanted = new Map<string, { host: string; port: number }>();
    for (const peer of peers) {
      if (peer.id === this.settings.id) continue;
      if (wanted.has(peer.id)) {
        throw new TransportError('PALISADE_TRANSPORT_INVALID_OPTIONS', `duplicate peer ${peer.id}`);
      }
      wanted.set(peer.id, parseAddress(peer.address));
    }
    for (const [id, sender] of this.senders) {
      if (!wanted.has(id)) {
        sender.close();
        this.senders.delete(id);
      }
    }
    for (const [id, address] of wanted) {
      const existing = this.senders.get(id);
      if (existing) existing.setAddress(address);
      else {
        const sender = new PeerSender<M>(id, address, this.settings, {
          dropped: (reason) => this.drop(reason, id),
          sent: (count) => (this.stats.sent += count),
          connected: () => {
            this.stats.connected++;
            this.onPeerState?.(id, 'connected');
          },
          disconnected: () => {
            this.stats.disconnected++;
            this.onPeerState?.(id, 'disconnected');
          },
          redialed: () => this.stats.redialed++,
        });
        this.senders.set(id, sender);
        sender.start();
      }
    }
  }

  /** The current peers' ids. */
  peers(): string[] {
    return [...this.senders.keys()];
  }

  /** A copy of the counters. */
  counters(): TransportCounters {
    return { ...this.stats, dropped: { ...this.drops } };
  }

  /** Stops listening, ends every connection and clears every timer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sender of this.senders.values()) sender.close();
    this.senders.clear();
    for (const socket of this.inbound) socket.destroy();
    this.inbound.clear();
    await new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }

  private drop(reason: DropReason, peer: string | undefined): void {
    this.drops[reason]++;
    this.onDropHook?.(reason, peer);
  }

  private accept(socket: Socket): void {
    if (this.closed || this.inbound.size >= this.maxInbound) {
      this.drop('too-many-connections', undefined);
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const nonce = markedNonce(randomBytes(NONCE_BYTES));
    // Until the dialer has authenticated, only an `auth` frame can come: a few hundred bytes. An
    // anonymous client cannot make this member buffer a 16 MiB frame.
    const decoder = new FrameDecoder(MAX_AUTH_FRAME_BYTES);
    let expectedSeq = 1;
    let peer: string | undefined;
    const reject = (reason: DropReason): void => {
      this.drop(reason, peer);
      socket.destroy();
    };
    const timer = setTimeout(() => reject('handshake-timeout'), this.settings.handshakeTimeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      this.inbound.delete(socket);
    });
    socket.on('error', () => undefined); // 'close' follows; nothing to report per socket
    socket.on('data', (chunk: Buffer) => {
      decoder.write(chunk);
      while (!socket.destroyed) {
        const frame = decoder.read();
        if (frame === undefined) return;
        if (typeof frame === 'string') return reject(frame);
        const outcome = this.receive(frame, nonce, expectedSeq, peer);
        if (typeof outcome === 'string') return reject(outcome);
        expectedSeq++;
        if (peer === undefined) {
          peer = outcome.from;
          clearTimeout(timer);
          decoder.setMaxFrameBytes(this.settings.maxFrameBytes);
        }
      }
    });
    socket.write(encodeHello(nonce));
  }

  /**
   * Handles one inbound frame. Returns the reason to close the connection, or the sender.
   * Per-message problems (recipient, membership, filter, decode) are counted here and do not
   * close the connection, except an undecodable payload.
   */
  private receive(
    frame: Frame,
    nonce: Uint8Array,
    expectedSeq: number,
    peer: string | undefined,
  ): DropReason | { from: string } {
    // The first frame must be `auth`, every later one a message frame (v1 or v2) from the same
    // sender.
    const expected =
      peer === undefined
        ? frame.kind === FrameKind.auth
        : frame.kind === FrameKind.message || frame.kind === FrameKind.messageV2;
    if (!expected) return 'malformed';
    const opened = openSigned(this.settings.key, nonce, frame);
    if (!opened.ok) return opened.reason;
    const { envelope } = opened;
    if (envelope.group !== this.settings.group) return 'wrong-group';
    if (envelope.seq !== expectedSeq) return 'replay';
    if (peer !== undefined && envelope.from !== peer) return 'malformed';
    if (envelope.to !== this.settings.id) {
      if (peer === undefined) return 'wrong-recipient';
      const count = opened.payloads?.length ?? 0;
      for (let i = 0; i < count; i++) this.drop('wrong-recipient', envelope.from);
      return { from: envelope.from };
    }
    // Authenticated and for us: the path from the peer is alive, whatever becomes of the message.
    this.senders.get(envelope.from)?.heard();
    if (frame.kind === FrameKind.auth) return { from: envelope.from };
    const count = opened.payloads?.length ?? 0;
    if (!this.senders.has(envelope.from)) {
      for (let i = 0; i < count; i++) this.drop('unknown-peer', envelope.from);
      return { from: envelope.from };
    }
    if (this.filter?.(envelope.from, this.settings.id) === 'drop') {
      for (let i = 0; i < count; i++) this.drop('filtered', envelope.from);
      return { from: envelope.from };
    }
    const payloads = opened.payloads ?? [];
    const messages: M[] = new Array<M>(payloads.length);
    try {
      for (let i = 0; i < payloads.length; i++) {
        messages[i] =
          opened.version === 2
            ? this.settings.codec.decode(payloads[i] as Buffer)
            : this.decodeMessage(fromWireValue(payloads[i]));
      }
    } catch {
      return 'malformed';
    }
    for (const message of messages) {
      this.stats.received++;
      try {
        this.handler?.(message, envelope.from);
      } catch {
        this.drop('handler-error', envelope.from);
      }
    }
    return { from: envelope.from };
  }
}

interface SenderEvents {
  dropped(reason: DropReason): void;
  sent(count: number): void;
  connected(): void;
  disconnected(): void;
  redialed(): void;
}

interface QueuedMessage<M> {
  readonly message: M;
  /** The codec's encoding, sent as is in v2 frames. */
  readonly bytes: Uint8Array;
}

/** The outbound half for one peer: queue, connection, handshake, reconnects. */
class PeerSender<M> {
  private queue: QueuedMessage<M>[] = [];
  private flushScheduled = false;
  private socket: Socket | undefined;
  private nonce: Buffer | undefined;
  /** The frame format the listener announced in its hello. */
  private version: 1 | 2 = 1;
  private seq = 0;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** When the first message since the peer was last heard from was queued. */
  private silentSince: number | undefined;

  constructor(
    private readonly peer: string,
    private address: { host: string; port: number },
    private readonly settings: Settings<M>,
    private readonly events: SenderEvents,
  ) {}

  /** The end-of-tick flush, one closure per peer rather than one per scheduling. */
  private readonly flushQueued = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  start(): void {
    this.connect();
  }

  /**
   * Queues a message. The queue is written at the end of the current tick, so that every message
   * a Ready sends to this peer shares one frame, one MAC and one write.
   */
  enqueue(message: QueuedMessage<M>): void {
    if (this.settings.silenceTimeoutMs !== undefined)
      this.checkSilence(this.settings.silenceTimeoutMs);
    if (this.queue.length >= this.settings.maxQueue) {
      this.queue.shift();
      this.events.dropped('queue-full');
    }
    this.queue.push(message);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(this.flushQueued);
  }

  /** The peer said something (over its own connection to us). */
  heard(): void {
    this.silentSince = undefined;
  }

  /**
   * Redials when the peer has not answered for `timeoutMs` of sending: the connection (or the
   * attempt) may be one whose packets vanish. Checked as messages are queued, so a member that
   * sends nothing is never redialed, and one that keeps sending to a dead path redials about
   * every `timeoutMs` plus the reconnect backoff.
   */
  private checkSilence(timeoutMs: number): void {
    const now = performance.now();
    if (this.silentSince === undefined) {
      this.silentSince = now;
      return;
    }
    if (now - this.silentSince < timeoutMs || this.socket === undefined) return;
    this.silentSince = now;
    this.events.redialed();
    this.socket.destroy(); // 'close' reconnects after the backoff
  }

  setAddress(address: { host: string; port: number }): void {
    if (address.host === this.address.host && address.port === this.address.port) return;
    this.address = address;
    this.attempt = 0;
    this.socket?.destroy(); // 'close' reconnects, to the new address
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
    this.queue = [];
  }

  private connect(): void {
    if (this.closed) return;
    this.timer = undefined;
    const socket = connect({ host: this.address.host, port: this.address.port });
    this.socket = socket;
    this.nonce = undefined;
    this.seq = 0;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(1 + 1 + NONCE_BYTES);
    const handshake = setTimeout(() => socket.destroy(), this.settings.handshakeTimeoutMs);
    socket.on('error', () => undefined); // 'close' follows
    socket.on('data', (chunk: Buffer) => {
      const { frames, error } = decoder.push(chunk);
      const first = frames[0];
      // The listener says exactly one thing, once: its hello.
      if (error || frames.length > 1 || this.nonce !== undefined) return void socket.destroy();
      if (first === undefined) return;
      const nonce = decodeHello(first);
      if (nonce === undefined) return void socket.destroy();
      clearTimeout(handshake);
      this.nonce = Buffer.from(nonce);
      this.version = listenerVersion(this.nonce);
      this.attempt = 0;
      this.events.connected();
      socket.write(this.auth());
      this.flush();
    });
    socket.on('drain', () => this.flush());
    socket.on('close', () => {
      clearTimeout(handshake);
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.nonce = undefined;
      this.events.disconnected();
      if (this.closed) return;
      const delay = backoffDelay(this.attempt++, this.settings.backoff, this.settings.random);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  private envelope(): { group: string; from: string; to: string; seq: number } {
    this.seq++;
    return { group: this.settings.group, from: this.settings.id, to: this.peer, seq: this.seq };
  }

  /** The `auth` frame that opens the connection. */
  private auth(): Buffer {
    if (this.nonce === undefined) throw new Error('PeerSender: no handshake yet');
    return encodeSigned(this.settings.key, this.nonce, this.envelope());
  }

  /**
   * Writes queued messages, as many per frame as fit in the frame bound, until the socket pushes
   * back; 'drain' resumes.
   */
  private flush(): void {
    const socket = this.socket;
    if (socket === undefined || this.nonce === undefined || socket.writableNeedDrain) return;
    if (this.version === 1) return this.flushV1(socket, this.nonce);
    const budget = this.settings.maxFrameBytes - FRAME_OVERHEAD_BYTES;
    while (this.queue.length > 0) {
      const batch: Uint8Array[] = [];
      let bytes = 0;
      for (const { bytes: payload } of this.queue) {
        const size = payload.byteLength + V2_MESSAGE_OVERHEAD;
        if (batch.length === MAX_BATCH_MESSAGES) break;
        if (batch.length > 0 && bytes + size > budget) break;
        batch.push(payload);
        bytes += size;
      }
      this.queue.splice(0, batch.length);
      this.events.sent(batch.length);
      const frame = encodeSignedV2(this.settings.key, this.nonce, this.envelope(), batch);
      if (!socket.write(frame)) return;
    }
  }

  /**
   * {@link flush} for a v1 listener (during a rolling upgrade): the messages' JSON, made here. A
   * message whose JSON alone exceeds the frame bound (base64 is larger than the bytes the size
   * check in `send` saw) is dropped as `oversized`.
   */
  private flushV1(socket: Socket, nonce: Buffer): void {
    const budget = this.settings.maxFrameBytes - V1_FRAME_OVERHEAD_BYTES;
    while (this.queue.length > 0) {
      const batch: string[] = [];
      let bytes = 0;
      let taken = 0;
      for (const { message } of this.queue) {
        if (batch.length === MAX_BATCH_MESSAGES) break;
        const json = toJson(message);
        const size = Buffer.byteLength(json) + 1;
        if (batch.length > 0 && bytes + size > budget) break;
        taken++;
        if (size > budget) {
          this.events.dropped('oversized');
          continue;
        }
        batch.push(json);
        bytes += size;
      }
      this.queue.splice(0, taken);
      if (batch.length === 0) continue;
      this.events.sent(batch.length);
      if (!socket.write(encodeSigned(this.settings.key, nonce, this.envelope(), batch))) return;
    }
  }
}
