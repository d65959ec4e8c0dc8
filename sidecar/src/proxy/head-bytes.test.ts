import { describe, expect, it } from '@jest/globals';
import { headerLinesLength, putHeaderLines, requestBytes } from './head-bytes.js';

describe('head bytes', () => {
  it('writes a request head and its body as the string concatenation would', () => {
    const headers = ['Host', 'example.test', 'x-forwarded-for', '10.0.0.1', 'x-é', 'caf\u00e9'];
    const body = Buffer.from('{"sku":1}');
    const out = requestBytes('POST', '/orders?id=1', headers, 'content-length: 9\r\n', body);
    const expected =
      'POST /orders?id=1 HTTP/1.1\r\nHost: example.test\r\nx-forwarded-for: 10.0.0.1\r\n' +
      'x-é: caf\u00e9\r\ncontent-length: 9\r\n\r\n{"sku":1}';
    expect(out.equals(Buffer.from(expected, 'latin1'))).toBe(true);
  });

  it('writes a head alone, without extra lines', () => {
    const out = requestBytes('GET', '/', [], '', null);
    expect(out.toString('latin1')).toBe('GET / HTTP/1.1\r\n\r\n');
  });

  it('measures exactly the bytes it writes', () => {
    const headers = ['a', '', 'name', 'value with spaces'];
    const out = Buffer.alloc(headerLinesLength(headers) + 1, 0xff);
    const end = putHeaderLines(out, 0, headers);
    expect(end).toBe(out.length - 1);
    expect(out.toString('latin1', 0, end)).toBe('a: \r\nname: value with spaces\r\n');
    expect(out[end]).toBe(0xff); // nothing written past the end
  });
});
