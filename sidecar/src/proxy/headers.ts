/**
 * Header handling on the hot path: one pass over the raw header list, no intermediate objects,
 * case-insensitive comparisons without lower-casing copies. Hop-by-hop headers (RFC 9110 §7.6.1:
 * Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade, and any header named
 * in Connection) never cross the proxy; framing is re-derived on each side.
 */

/** What a header name means to the proxy. */
export enum HeaderKind {
  Plain = 0,
  HopByHop = 1,
  Host = 2,
  ContentLength = 3,
  TransferEncoding = 4,
  Connection = 5,
  Expect = 6,
  XForwardedFor = 7,
  XForwardedProto = 8,
  XForwardedHost = 9,
  Forwarded = 10,
}

/** `name` equals `lower` (already lower-case ASCII) ignoring ASCII case. */
export function equalsIgnoreCase(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    if (c !== lower.charCodeAt(i) && (c | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function startsWithProxyDash(name: string): boolean {
  if (name.length < 6) return false;
  const c = name.charCodeAt(0) | 0x20;
  return c === 0x70 && equalsIgnoreCase(name.slice(0, 6), 'proxy-');
}

/** Classifies a header name; only names of a few lengths are ever compared. */
export function classifyHeader(name: string): HeaderKind {
  switch (name.length) {
    case 2:
      return equalsIgnoreCase(name, 'te') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 4:
      return equalsIgnoreCase(name, 'host') ? HeaderKind.Host : HeaderKind.Plain;
    case 6:
      return equalsIgnoreCase(name, 'expect') ? HeaderKind.Expect : HeaderKind.Plain;
    case 7:
      return equalsIgnoreCase(name, 'upgrade') || equalsIgnoreCase(name, 'trailer')
        ? HeaderKind.HopByHop
        : HeaderKind.Plain;
    case 9:
      return equalsIgnoreCase(name, 'forwarded') ? HeaderKind.Forwarded : HeaderKind.Plain;
    case 10:
      if (equalsIgnoreCase(name, 'connection')) return HeaderKind.Connection;
      return equalsIgnoreCase(name, 'keep-alive') ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 14:
      return equalsIgnoreCase(name, 'content-length') ? HeaderKind.ContentLength : HeaderKind.Plain;
    case 15:
      return equalsIgnoreCase(name, 'x-forwarded-for')
        ? HeaderKind.XForwardedFor
        : HeaderKind.Plain;
    case 16:
      if (equalsIgnoreCase(name, 'x-forwarded-host')) return HeaderKind.XForwardedHost;
      return startsWithProxyDash(name) ? HeaderKind.HopByHop : HeaderKind.Plain;
    case 17:
      if (equalsIgnoreCase(name, 'transfer-encoding')) return HeaderKind.TransferEncoding;
      if (equalsIgnoreCase(name, 'x-forwarded-proto')) return HeaderKind.XForwardedProto;
      return startsWithProxyDash(name) ? HeaderKind.HopByHop : HeaderKind.Plain;
    default:
      return startsWithProxyDash(name) ? HeaderKind.HopByHop : HeaderKind.Plain;
  }
}

/**
 * Lower-cased tokens of a Connection header value other than `close`/`keep-alive`/`upgrade`
 * (which are handled anyway): the extra header names to drop.
 */
export function connectionTokens(value: string, into: string[]): void {
  // Nearly every Connection header is exactly one of these: no split, no copies.
  if (equalsIgnoreCase(value, 'keep-alive') || equalsIgnoreCase(value, 'close')) return;
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '' && token !== 'close' && token !== 'keep-alive' && token !== 'upgrade') {
      into.push(token);
    }
  }
}

/** Removes the headers named in `names` (lower-case) from a flat list, in place. */
export function removeNamed(headers: string[], names: readonly string[]): void {
  let out = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (names.includes(name.toLowerCase())) continue;
    headers[out] = name;
    headers[out + 1] = headers[i + 1] as string;
    out += 2;
  }
  headers.length = out;
}

const hostPattern = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]{1,5})?$/;

/** A Host value acceptable per RFC 9110 §7.2 (reg-name or IP literal, optional port). */
export function isValidHost(host: string): boolean {
  return hostPattern.test(host);
}

/**
 * The result of scanning a request head. One instance is reused by each server: a scan runs
 * synchronously and its results are copied out before the next one.
 */
export class RequestHeadScan {
  /** Headers to forward (hop-by-hop and forwarding headers removed). */
  headers: string[] = [];
  /** The Host value (the head parser already refused several). */
  host: string | null = null;
  xForwardedFor: string | null = null;
  xForwardedProto: string | null = null;
  xForwardedHost: string | null = null;
  forwarded: string | null = null;
  private dropNames: string[] = [];

  /**
   * Scans `raw` (Node's `rawHeaders`). When `keepForwarding` is false the forwarding headers
   * are captured but not copied, so that the caller can write fresh ones.
   */
  scan(raw: readonly string[], keepForwarding: boolean): void {
    const out: string[] = [];
    this.headers = out;
    this.host = null;
    this.xForwardedFor = null;
    this.xForwardedProto = null;
    this.xForwardedHost = null;
    this.forwarded = null;
    let drop: string[] | null = null;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      const value = raw[i + 1] as string;
      switch (classifyHeader(name)) {
        case HeaderKind.Plain:
          out.push(name, value);
          break;
        case HeaderKind.Host:
          this.host = value;
          out.push(name, value);
          break;
        case HeaderKind.ContentLength:
          // Framing was checked by the head parser; the length travels as sent.
          out.push(name, value);
          break;
        case HeaderKind.TransferEncoding:
          // Hop-by-hop: the body is re-framed towards the upstream.
          break;
        case HeaderKind.Connection:
          if (drop === null) {
            drop = this.dropNames;
            drop.length = 0;
          }
          connectionTokens(value, drop);
          break;
        case HeaderKind.XForwardedFor:
          this.xForwardedFor =
            this.xForwardedFor === null ? value : `${this.xForwardedFor}, ${value}`;
          if (keepForwarding) out.push(name, value);
          break;
        case HeaderKind.XForwardedProto:
          this.xForwardedProto ??= value;
          if (keepForwarding) out.push(name, value);
          break;
        case HeaderKind.XForwardedHost:
          this.xForwardedHost ??= value;
          if (keepForwarding) out.push(name, value);
          break;
        case HeaderKind.Forwarded:
          this.forwarded = this.forwarded === null ? value : `${this.forwarded}, ${value}`;
          if (keepForwarding) out.push(name, value);
          break;
        default:
          // Hop-by-hop and Expect (Node already answered 100-continue): not forwarded.
          break;
      }
    }
    if (drop !== null && drop.length > 0) removeNamed(out, drop);
  }
}

/** Formats a node for `Forwarded: for=` (RFC 7239 §6): IPv6 quoted in brackets. */
export function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

let lastForwardedInput = '';
let lastForwardedOutput = '';

/** Quotes a `Forwarded` parameter value when it is not a plain token (last result cached: hosts repeat). */
export function forwardedValue(value: string): string {
  if (value === lastForwardedInput) return lastForwardedOutput;
  const out = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(value)
    ? value
    : `"${value.replace(/["\\]/g, '\\$&')}"`;
  lastForwardedInput = value;
  lastForwardedOutput = out;
  return out;
}
