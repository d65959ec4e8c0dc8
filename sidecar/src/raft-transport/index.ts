/**
 * The authenticated TCP transport between the sidecars of a Raft group: length-prefixed frames,
 * HMAC-SHA256 with the group secret, per-connection nonces against replay, bounded queues and
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
  FrameDecoder,
  FrameKind,
  fromWireValue,
  openSigned,
  toWireValue,
  MAC_BYTES,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  type Envelope,
  type Frame,
  type Opened,
} from './wire.js';
