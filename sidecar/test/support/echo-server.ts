/**
 * The upstream used by the proxy tests: a real HTTP server on 127.0.0.1:0 that echoes what it
 * received, and misbehaves on request. Controls are request headers, so that one server serves
 * every case:
 * - `x-echo-delay: <ms>`      answer after a delay (for timeouts and drain tests);
 * - `x-echo-status: <code>`   answer with that status;
 * - `x-echo-reset: <bytes>`   send the head and `<bytes>` of a longer body, then reset the socket;
 * - `x-echo-size: <bytes>`    answer with a body of that many bytes (streamed, constant memory);
 * - `x-echo-pipe: 1`          stream the request body back as the response body.
 * Otherwise the answer is JSON `{method, path, rawHeaders, body, bodyLength}`.
 * `stop()` closes it (its port then refuses connections: "app down").
 * Upgrades (`Upgrade: websocket`) get `101` and then every byte is echoed back.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the echo server answers in JSON mode. */
export interface EchoReply {
  method: string;
  path: string;
  rawHeaders: string[];
  body: string;
  bodyLength: number;
}

/** A running echo server. */
export interface EchoServer {
  readonly port: number;
  readonly server: http.Server;
  /** Number of TCP connections accepted so far (keep-alive reuse checks). */
  connections(): number;
  /** Requests received so far. */
  requests(): number;
  /** Body bytes written so far by `x-echo-size`/`x-echo-reset` answers. */
  streamedBytes(): number;
  stop(): Promise<void>;
}

const chunk = Buffer.alloc(64 * 1024, 0x61);
let streamed = 0;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function streamBytes(res: ServerResponse, total: number, done: () => void): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      streamed += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const status = Number(header(req, 'x-echo-status') ?? 200);
  const reset = header(req, 'x-echo-reset');
  const size = header(req, 'x-echo-size');
  if (reset !== undefined) {
    res.writeHead(200, { 'content-length': String(Number(reset) * 4) });
    streamBytes(res, Number(reset), () => {
      // Let the partial body leave, then reset the connection.
      res.socket?.once('drain', () => res.socket?.resetAndDestroy());
      if (res.socket?.writableLength === 0) res.socket.resetAndDestroy();
    });
    return;
  }
  if (size !== undefined) {
    res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': size });
    streamBytes(res, Number(size), () => res.end());
    return;
  }
  if (header(req, 'x-echo-pipe') !== undefined) {
    res.writeHead(status, { 'content-type': 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (part: Buffer) => parts.push(part));
  req.on('end', () => {
    const body = Buffer.concat(parts);
    const reply: EchoReply = {
      method: req.method ?? '',
      path: req.url ?? '',
      rawHeaders: req.rawHeaders,
      body: body.toString('utf8'),
      bodyLength: body.length,
    };
    const text = JSON.stringify(reply);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      // Hop-by-hop headers the proxy must not relay to its client.
      connection: /close/i.test(header(req, 'connection') ?? '')
        ? 'close, x-echo-private'
        : 'keep-alive, x-echo-private',
      'x-echo-private': 'secret',
      'proxy-authenticate': 'Basic',
    });
    res.end(text);
  });
}

/** Starts an echo server on 127.0.0.1 and a free port. */
export async function startEchoServer(): Promise<EchoServer> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    requests++;
    const delay = Number(header(req, 'x-echo-delay') ?? 0);
    if (delay > 0) setTimeout(() => handle(req, res), delay).unref();
    else handle(req, res);
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    requests++;
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n' +
        `x-echo-forwarded-for: ${header(req, 'x-forwarded-for') ?? ''}\r\n\r\n`,
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    connections: () => connections,
    requests: () => requests,
    streamedBytes: () => streamed,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
