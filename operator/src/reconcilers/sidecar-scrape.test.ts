import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pod } from '../compiler/fixtures.js';
import { httpMetricsReader, scrapeSidecars } from './sidecar-scrape.js';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('scrapeSidecars over HTTP', () => {
  // `up` answers, `slow` accepts and never answers, `down` is a port nothing listens on.
  const up = createServer((_, response) => response.end('palisade_raft_applied_index 12\n'));
  const slow = createServer(() => undefined);
  // `stalled` sends its head and a first line, then nothing.
  const stalled = createServer((_, response) => {
    response.write('palisade_raft_applied_index 1\n');
  });
  // `endless` streams metrics text and never ends the body.
  const endless = createServer((_, response) => {
    const lines = Buffer.from('palisade_x 1\n'.repeat(100));
    const write = (): void => {
      while (response.write(lines));
      response.once('drain', write);
    };
    write();
  });
  const ports = new Map<string, number>();
  beforeAll(async () => {
    ports.set('up', await listen(up)).set('slow', await listen(slow));
    ports.set('endless', await listen(endless));
    ports.set('stalled', await listen(stalled));
    const closed = createServer();
    ports.set('down', await listen(closed));
    await new Promise((resolve) => closed.close(resolve));
  });
  afterAll(async () => {
    for (const server of [up, slow, endless, stalled]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives a sample per pod that answered and a reason per pod that did not', async () => {
    const reader = httpMetricsReader({ port: (p) => ports.get(p.name) ?? 1, timeoutMs: 300 });
    const pods = ['up', 'down', 'slow', 'no-ip'].map((name) =>
      pod(name, {}, { podIP: name === 'no-ip' ? undefined : '127.0.0.1' }),
    );
    const scrape = await scrapeSidecars(reader, pods, new AbortController().signal);
    expect([...scrape.samples.keys()]).toEqual(['up']);
    expect(scrape.samples.get('up')?.raftAppliedIndex).toBe(12);
    expect(Object.fromEntries(scrape.failures)).toEqual({
      down: 'fetch failed (ECONNREFUSED)',
      slow: expect.stringMatching(/timeout/i),
      'no-ip': 'no pod IP yet',
    });
  });

  it('stops reading a body past the size bound, long before the timeout', async () => {
    const reader = httpMetricsReader({
      port: () => ports.get('endless') as number,
      timeoutMs: 60_000,
      maxBytes: 64 * 1024,
    });
    const pods = [pod('endless', {}, { podIP: '127.0.0.1' })];
    const scrape = await scrapeSidecars(reader, pods, new AbortController().signal);
    expect(scrape.failures.get('endless')).toBe('GET /metrics: body larger than 65536 bytes');
  });

  it('bounds the body by the same deadline as the head', async () => {
    const reader = httpMetricsReader({
      port: () => ports.get('stalled') as number,
      timeoutMs: 300,
    });
    const pods = [pod('stalled', {}, { podIP: '127.0.0.1' })];
    const scrape = await scrapeSidecars(reader, pods, new AbortController().signal);
    expect(scrape.failures.get('stalled')).toMatch(/timeout/);
  });

  it('throws only when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    const reader = httpMetricsReader({ port: () => ports.get('up') as number });
    await expect(
      scrapeSidecars(reader, [pod('up', {}, { podIP: '127.0.0.1' })], controller.signal),
    ).rejects.toThrow();
  });
});
