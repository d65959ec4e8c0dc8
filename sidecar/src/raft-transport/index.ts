/**
 * The authenticated TCP transport between the sidecars of a Raft group: length-prefixed frames,
 * HMAC-SHA256 with the group secret, JSON (v1) or binary (v2) message frames, per-connection nonces against replay, bounded queues and
 * reconnects, drop counters by reason, and a partition filter for chaos experiments.
 */
export { TransportError, type TransportErrorCode } from './errors.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
export {
  parseAddress,
  RaftTransport,
  readSecretFile,
  type DropReason,
  type FilterVerdict,
  type MessageCodec,
  type MessageHandler,
  type RaftTransportOptions,
  type TrafficFilter,
  type TransportCounters,
  type TransportPeer,
} from './transport.js';
export {
  decodeHello,
  encodeFrame,
  encodeHello,
  encodeSigned,
  encodeSignedJson,
  encodeSignedV2,
  FrameDecoder,
  FrameKind,
  fromWireValue,
  listenerVersion,
  markedNonce,
  openSigned,
  toWireValue,
  MAC_BYTES,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  V2_MARKER,
  WIRE_VERSION,
  type Envelope,
  type Frame,
  type Opened,
} from './wire.js';
