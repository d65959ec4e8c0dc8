/**
 * Raw-socket helpers for the proxy tests: send exact bytes (malformed requests included) and
 * read the answer until the server closes the connection.
 */
import net from 'node:net';

/** What came back on a raw connection. */
export interface RawReply {
  /** Everything received, latin1. */
  readonly text: string;
  /** Status code of the first response line, or null when nothing parseable came back. */
  readonly status: number | null;
  /** How the connection ended. */
  readonly ending: 'end' | 'reset';
}

/** Parses the status code of the first response line. */
export function statusOf(text: string): number | null {
  const match = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
  return match === null ? null : Number(match[1]);
}

/**
 * Connects to 127.0.0.1:`port`, writes `data` (or its parts in order), and resolves once the
 * server has closed the connection. The client does not half-close (Node, like nginx, treats a
 * client EOF as an abort), so `data` should ask for `Connection: close` or be refused.
 */
export function rawExchange(
  port: number,
  data: string | Buffer | readonly (string | Buffer)[],
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let ending: 'end' | 'reset' = 'end';
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') ending = 'reset';
      else reject(err);
    });
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('latin1');
      resolve({ text, status: statusOf(text), ending });
    });
    socket.once('connect', () => {
      const parts = Array.isArray(data) ? data : [data];
      for (const part of parts) socket.write(part);
    });
  });
}

/** Opens a connection and resolves once it is established (for slow/idle client tests). */
export function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves with everything received once `socket` closes. */
export function readUntilClose(socket: net.Socket): Promise<RawReply> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let ending: 'end' | 'reset' = 'end';
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => (ending = 'reset'));
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('latin1');
      resolve({ text, status: statusOf(text), ending });
    });
  });
}

/** Resolves with the bytes received up to and including the first `\r\n\r\n`. */
export function readHead(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end !== -1) {
        socket.off('data', onData);
        socket.off('close', onClose);
        const rest = text.slice(end + 4);
        if (rest.length > 0) socket.unshift(Buffer.from(rest, 'latin1'));
        resolve(text.slice(0, end + 4));
      }
    };
    const onClose = (): void =>
      reject(new Error(`connection closed before a full head: ${JSON.stringify(text)}`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
