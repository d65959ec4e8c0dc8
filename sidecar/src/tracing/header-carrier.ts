/**
 * Reading and writing trace headers where the proxy keeps them: a flat raw list
 * (`[name, value, name, value, …]`, case preserved, as `IncomingMessage.rawHeaders` and the
 * proxy's `ProxyRequest.headers`) or Node's lower-cased header object.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { TextMapGetter, TextMapSetter } from '@opentelemetry/api';

/** Headers as the proxy (flat list) or Node (object) holds them. */
export type HeaderCarrier = string[] | readonly string[] | IncomingHttpHeaders;

/** Index of the value of header `lower` (lower-case) in a flat list, or -1. */
function indexOf(list: readonly string[], lower: string): number {
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i] as string;
    if (name.length === lower.length && name.toLowerCase() === lower) return i + 1;
  }
  return -1;
}

/** Reads headers from either carrier shape. Names asked for are lower-case (W3C propagators). */
export const headerGetter: TextMapGetter<HeaderCarrier> = {
  keys(carrier) {
    if (Array.isArray(carrier)) {
      const keys: string[] = [];
      for (let i = 0; i < carrier.length; i += 2) keys.push((carrier[i] as string).toLowerCase());
      return keys;
    }
    return Object.keys(carrier);
  },
  get(carrier, key) {
    if (Array.isArray(carrier)) {
      const i = indexOf(carrier as readonly string[], key);
      return i < 0 ? undefined : carrier[i];
    }
    return (carrier as IncomingHttpHeaders)[key];
  },
};

/** Writes a header, replacing an existing one of the same name (any case). */
export const headerSetter: TextMapSetter<HeaderCarrier> = {
  set(carrier, key, value) {
    if (Array.isArray(carrier)) {
      const list = carrier as string[];
      const i = indexOf(list, key);
      if (i < 0) list.push(key, value);
      else list[i] = value;
      return;
    }
    (carrier as IncomingHttpHeaders)[key] = value;
  },
};
