import { describe, expect, it } from '@jest/globals';
import { ChunkedDecoder } from './chunked-decoder.js';
import { BadRequest, ProxyError } from './errors.js';

/** Decodes `parts` in order; returns the data, the offset in the last part, and any error. */
function decode(parts: string[]): { data: string; end: number | ProxyError; done: boolean } {
  const decoder = new ChunkedDecoder();
  let data = '';
  let end: number | ProxyError = 0;
  for (const part of parts) {
    end = decoder.decode(Buffer.from(part, 'latin1'), 0, (chunk) => {
      data += chunk.toString('latin1');
    });
    if (end instanceof ProxyError) break;
  }
  return { data, end, done: decoder.done };
}

describe('ChunkedDecoder', () => {
  it('decodes chunks, drops extensions and trailers, and stops at the end of the body', () => {
    const body = '5;name=v\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\nGET /next';
    const { data, end, done } = decode([body]);
    expect(data).toBe('hello0123456789');
    expect(done).toBe(true);
    expect(end).toBe(body.indexOf('GET /next'));
  });

  it('decodes the same body split at every byte', () => {
    const body = '3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';
    const { data, done } = decode(body.split(''));
    expect(data).toBe('abcde');
    expect(done).toBe(true);
  });

  it('hands out slices of the input without copying', () => {
    const input = Buffer.from('4\r\nwxyz\r\n', 'latin1');
    const decoder = new ChunkedDecoder();
    const seen: Buffer[] = [];
    decoder.decode(input, 0, (chunk) => seen.push(chunk));
    expect(seen).toHaveLength(1);
    expect((seen[0] as Buffer).buffer).toBe(input.buffer);
    expect(decoder.total).toBe(4);
    expect(decoder.done).toBe(false);
  });

  it.each([
    ['a size that would overflow', 'fffffffffffffff\r\n'],
    ['a size that is not hex', 'g\r\n'],
    ['an empty size', '\r\n'],
    ['a control character in an extension', '1;a\x01b\r\nx\r\n0\r\n\r\n'],
    ['a bare LF after the size', '1\nx\r\n0\r\n\r\n'],
    ['data longer than its size', '1\r\nxy\r\n0\r\n\r\n'],
    ['a control character in a trailer', '0\r\nX-A: \x00\r\n\r\n'],
    ['a bare LF at the end', '0\r\n\n'],
  ])('refuses %s', (_name, body) => {
    expect(decode([body]).end).toBeInstanceOf(BadRequest);
  });
});
