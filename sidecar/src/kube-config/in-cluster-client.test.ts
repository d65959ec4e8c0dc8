import { describe, expect, it } from '@jest/globals';
import { LineSplitter, inClusterAccess } from './in-cluster-client.js';

describe('LineSplitter', () => {
  it('gives each complete line once, across chunk boundaries, skipping blank lines', () => {
    const lines = new LineSplitter(1024);
    expect(lines.push(Buffer.from('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(lines.push(Buffer.from(':2'))).toEqual([]);
    expect(lines.push(Buffer.from('}\n\n{"c":3}\n'))).toEqual(['{"b":2}', '{"c":3}']);
    expect(lines.push(Buffer.from('{"d":4}'))).toEqual([]);
  });

  it('keeps a multi-byte character split between chunks intact', () => {
    const bytes = Buffer.from('{"é":1}\n');
    const lines = new LineSplitter(1024);
    expect(lines.push(bytes.subarray(0, 3))).toEqual([]);
    expect(lines.push(bytes.subarray(3))).toEqual(['{"é":1}']);
  });

  it('refuses a line longer than its bound instead of buffering it', () => {
    const lines = new LineSplitter(8);
    expect(lines.push(Buffer.from('12345'))).toEqual([]);
    expect(() => lines.push(Buffer.from('6789'))).toThrow(/longer than 8 bytes/);
  });
});

describe('inClusterAccess', () => {
  it('says what is missing outside a pod', () => {
    expect(() => inClusterAccess({}, '/nonexistent')).toThrow(/KUBERNETES_SERVICE_HOST/);
    expect(() =>
      inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: 'x' }),
    ).toThrow(/KUBERNETES_SERVICE_PORT/);
  });
});
