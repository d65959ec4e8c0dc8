/**
 * bench:raft's HTTP floor: a bare `node:http` server that answers the lease acquire requests of
 * the load (read the JSON body, parse it, answer a grant-shaped JSON) with no Raft, no lease table,
 * no disk. Its CPU per request is what the leader pays for HTTP alone, the part of a lease op no
 * change inside the group can remove. Prints `{"port": n}` on stdout once listening.
 */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { holder?: unknown };
    const json = JSON.stringify({
      granted: true,
      token: 1,
      expiresAt: new Date(Date.now() + 200).toISOString(),
      validForMs: typeof body.holder === 'string' ? 200 : 0,
    });
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(json),
    });
    res.end(json);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
process.on('SIGTERM', () => process.exit(0));
