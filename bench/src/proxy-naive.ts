/**
 * Reference points for bench:proxy (not products): what a Node proxy costs when written the
 * obvious way, and what a Node server alone costs.
 *
 *   node bench/dist/proxy-naive.js <floor|agent|undici-request> <port> <app-port>
 *
 * - floor: a node:http server answering 1 KiB itself (no proxying): the least any Node proxy pays
 *   on the server side;
 * - tcp-relay: a node:net server relaying each client connection's bytes to its own upstream
 *   connection, both ways, without reading them (no HTTP parsing at all): the least any Node
 *   proxy pays for moving the bytes, the floor of CPU per request for the data path;
 * - agent: node:http server + http.request with a keep-alive Agent, piping both ways;
 * - undici-request: node:http server + undici `Pool.request()` (the "naive" proxy).
 */
import http from 'node:http';
import net from 'node:net';
// undici comes with @palisade/sidecar (declared there; not repeated here to keep package-lock.json in sync).
import { Pool } from 'undici';

const [kind, portText, appPortText] = process.argv.slice(2);
const port = Number(portText);
const appPort = Number(appPortText);
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
]);

function endToEnd(headers: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !hopByHop.has(name)) out[name] = value;
  return out;
}

let server: http.Server | net.Server;
if (kind === 'tcp-relay') {
  server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: appPort, noDelay: true });
    // Each side's bytes are written to the other as they arrive; no back-pressure handling is
    // needed at one request in flight per connection.
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
} else if (kind === 'floor') {
  const body = Buffer.alloc(1024, 0x78);
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-length': '1024' });
      res.end(body);
    });
  });
} else if (kind === 'agent') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  server = http.createServer((req, res) => {
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: appPort,
        method: req.method,
        path: req.url,
        headers: endToEnd(req.headers),
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(upstream);
  });
} else if (kind === 'undici-request') {
  const pool = new Pool(`http://127.0.0.1:${appPort}`, { connections: 128 });
  server = http.createServer((req, res) => {
    pool
      .request({
        method: req.method as 'GET',
        path: req.url ?? '/',
        headers: endToEnd(req.headers),
        body: req,
      })
      .then((answer) => {
        res.writeHead(answer.statusCode, endToEnd(answer.headers as http.IncomingHttpHeaders));
        answer.body.pipe(res);
      })
      .catch(() => {
        res.statusCode = 502;
        res.end();
      });
  });
} else {
  throw new Error(`unknown kind ${kind}`);
}
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
