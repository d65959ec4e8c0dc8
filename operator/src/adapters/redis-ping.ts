/**
 * One bounded PING of a Redis URL (`redis://` or `rediss://`, with optional user and password):
 * the operator's check behind the `RedisUnavailable` condition. Plain RESP over `node:net` /
 * `node:tls`: the operator needs a yes/no per URL every few seconds, not a client library.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** Why a PING failed, for the condition's message (never holds the password). */
export class RedisPingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisPingError';
  }
}

/** `host:port` of a Redis URL, without credentials: safe in conditions and logs. */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port === '' ? '6379' : u.port}`;
  } catch {
    return '(unparsable URL)';
  }
}

function command(...parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/**
 * Resolves when the server answers `+PONG` (after `AUTH` when the URL has credentials) within
 * `timeoutMs`; rejects with a `RedisPingError` otherwise.
 */
export function pingRedis(url: string, timeoutMs: number): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new RedisPingError('not a URL'));
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    return Promise.reject(new RedisPingError(`unsupported scheme ${parsed.protocol}`));
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const password = decodeURIComponent(parsed.password);
  const user = decodeURIComponent(parsed.username);
  const expected = password === '' ? 1 : 2;
  const request =
    (password === ''
      ? ''
      : user === ''
        ? command('AUTH', password)
        : command('AUTH', user, password)) + command('PING');
  return new Promise((resolve, reject) => {
    const socket: Socket =
      parsed.protocol === 'rediss:'
        ? connectTls({ host, port, servername: host })
        : connectTcp({ host, port });
    let answer = '';
    const finish = (error?: RedisPingError): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(
      () => finish(new RedisPingError(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once(parsed.protocol === 'rediss:' ? 'secureConnect' : 'connect', () =>
      socket.write(request),
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      const lines = answer.split('\r\n').filter((l) => l !== '');
      const error = lines.find((l) => l.startsWith('-'));
      // An error line names the Redis error (e.g. WRONGPASS), never the password we sent.
      if (error !== undefined) finish(new RedisPingError(error.slice(1).split(' ')[0] ?? 'error'));
      else if (lines.length >= expected)
        finish(
          lines[expected - 1] === '+PONG'
            ? undefined
            : new RedisPingError(`unexpected answer to PING`),
        );
      else if (answer.length > 1024) finish(new RedisPingError('answer too long'));
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(new RedisPingError(error.code ?? error.message)),
    );
    socket.on('close', () => finish(new RedisPingError('connection closed')));
  });
}
