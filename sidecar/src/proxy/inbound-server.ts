/**
 * The inbound reverse proxy (port 15006): clients → stack → the application on `app`. Adds
 * `X-Forwarded-For/-Proto/-Host` and `Forwarded`, passes WebSocket/upgrade requests through as
 * a raw tunnel.
 */
import net, { type Socket } from 'node:net';
import type { ClientExchange } from './client-connection.js';
import { BadRequest, UpstreamUnavailable, type ProxyError } from './errors.js';
import { ProxyRequest } from './handler.js';
import { forwardedNode, forwardedValue, isValidHost } from './headers.js';
import { Pipeline, compileRoutes } from './pipeline.js';
import { ProxyServer, upgradeValue, type ProxyServerOptions } from './proxy-server.js';
import { Upstream, type UpstreamOptions } from './upstream.js';

/** Options of the inbound proxy. */
export interface InboundServerOptions extends ProxyServerOptions {
  /** Where the application listens. */
  readonly app: { readonly host: string; readonly port: number };
  /** Connection settings towards the application. */
  readonly upstream?: UpstreamOptions;
  /**
   * Keep `X-Forwarded-Proto/-Host` and extend `X-Forwarded-For`/`Forwarded` as received (the
   * client is a trusted proxy, e.g. the ingress). When false, they are replaced by our own view.
   */
  readonly trustForwarded?: boolean;
  /** Route table holder; defaults to a filterless default route. */
  readonly pipeline?: Pipeline;
}

/** Inbound reverse proxy. */
export class InboundServer extends ProxyServer {
  /** The application. `app.available = false` makes requests fail fast with 503. */
  readonly app: Upstream;
  override readonly acceptsUpgrade = true;
  private readonly trustForwarded: boolean;

  constructor(options: InboundServerOptions) {
    super(options.pipeline ?? new Pipeline(compileRoutes('inbound', [])), options);
    this.app = new Upstream(options.app.host, options.app.port, options.upstream);
    this.trustForwarded = options.trustForwarded ?? true;
  }

  protected closeUpstreams(): Promise<void> {
    return this.app.destroy();
  }

  protected toProxyRequest(incoming: ClientExchange): ProxyRequest | ProxyError {
    const scan = this.scan;
    const trust = this.trustForwarded;
    scan.scan(incoming.rawHeaders, false);
    let host = scan.host;
    let path = incoming.target;
    if (path.charCodeAt(0) !== 0x2f /* / */) {
      const target = parseAbsoluteTarget(path);
      // The asterisk-form (`OPTIONS *`) asks about the server itself: not relayed (400).
      if (target === null) return new BadRequest('invalid request target');
      // RFC 9112 §3.2.2: the absolute-form's authority replaces Host.
      host = target.authority;
      path = target.path;
      replaceHost(scan.headers, host);
    }
    if (host === null || !isValidHost(host)) return new BadRequest('missing or invalid Host');
    const headers = scan.headers;
    const remote = incoming.remoteAddress;
    const xff = trust ? scan.xForwardedFor : null;
    const fwd = trust ? scan.forwarded : null;
    headers.push(
      'x-forwarded-for',
      xff === null ? remote : `${xff}, ${remote}`,
      'x-forwarded-proto',
      (trust ? scan.xForwardedProto : null) ?? 'http',
      'x-forwarded-host',
      (trust ? scan.xForwardedHost : null) ?? host,
      'forwarded',
      `${fwd === null ? '' : `${fwd}, `}for=${forwardedNode(remote)};host=${forwardedValue(host)};proto=http`,
    );
    return new ProxyRequest(
      'inbound',
      incoming.method,
      path,
      host,
      headers,
      incoming.bodyLength,
      remote,
      this.clock.now(),
      incoming,
      this.app,
      this.maxBodyBytes,
    );
  }

  /** WebSocket and other upgrades: a raw tunnel to the app after replaying the head. */
  protected override onTunnel(incoming: ClientExchange, socket: Socket, head: Buffer): void {
    this.trackTunnel(socket);
    const upgrade = upgradeValue(incoming);
    const req = incoming.method === 'CONNECT' ? null : this.toProxyRequest(incoming);
    if (!(req instanceof ProxyRequest) || upgrade === null || this.draining) {
      this.refuseRaw(
        socket,
        req instanceof ProxyRequest || req === null ? new BadRequest('bad upgrade request') : req,
      );
      return;
    }
    let lines = `${req.method} ${req.path} HTTP/1.1\r\n`;
    const headers = req.headers;
    for (let i = 0; i < headers.length; i += 2) lines += `${headers[i]}: ${headers[i + 1]}\r\n`;
    lines += `connection: upgrade\r\nupgrade: ${upgrade}\r\n\r\n`;
    const upstream = net.connect({ host: this.app.host, port: this.app.port, noDelay: true });
    const onConnectError = (err: Error): void => {
      upstream.destroy();
      this.refuseRaw(socket, new UpstreamUnavailable('app refused the upgrade connection', err));
    };
    upstream.once('error', onConnectError);
    upstream.once('connect', () => {
      upstream.off('error', onConnectError);
      upstream.write(lines);
      if (head.length > 0) upstream.write(head);
      this.tunnel(socket, upstream);
    });
  }
}

/** Splits an absolute-form target `http://authority/path?query`; null when it is not one. */
export function parseAbsoluteTarget(target: string): { authority: string; path: string } | null {
  if (target.length < 8 || !/^http:\/\//i.test(target)) return null;
  let end = 7;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
    end++;
  }
  const authority = target.slice(7, end);
  if (authority === '' || authority.includes('@') || !isValidHost(authority)) return null;
  const rest = target.slice(end);
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest };
}

/** Sets the Host header of a flat list to `host` (replacing every Host line, adding one if none). */
export function replaceHost(headers: string[], host: string): void {
  let found = false;
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).length === 4 && (headers[i] as string).toLowerCase() === 'host') {
      if (found) {
        headers.splice(i, 2);
        i -= 2;
      } else {
        headers[i + 1] = host;
        found = true;
      }
    }
  }
  if (!found) headers.push('host', host);
}
