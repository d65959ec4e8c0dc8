import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogging } from './logging.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { lines, destination };
}

describe('createLogging', () => {
  it('writes JSON lines with level label, time, service and component', () => {
    const { lines, destination } = capture();
    const logging = createLogging({ level: 'info', destination });
    logging.child('config').info({ version: 'v2' }, 'config applied');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      service: 'palisade-sidecar',
      component: 'config',
      version: 'v2',
      msg: 'config applied',
    });
    expect(typeof lines[0]?.time).toBe('string');
  });

  it('caches component loggers and moves every level on setLevel', () => {
    const { lines, destination } = capture();
    const logging = createLogging({ level: 'info', destination });
    const proxy = logging.child('proxy');
    expect(logging.child('proxy')).toBe(proxy);
    proxy.debug('hidden');
    expect(proxy.isLevelEnabled('debug')).toBe(false);
    logging.setLevel('debug');
    expect(proxy.isLevelEnabled('debug')).toBe(true);
    proxy.debug('shown');
    logging.setLevel('error');
    logging.root.warn('hidden too');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });

  it('redacts credentials in headers and config secrets', () => {
    const { lines, destination } = capture();
    const logging = createLogging({ level: 'info', destination });
    logging.root.info(
      {
        req: { headers: { authorization: 'Bearer abc', 'x-user': 'u1' } },
        redis: { url: 'redis://:hunter2@redis:6379' },
        config: { rateLimits: [{ redis: { url: 'redis://u:pw@r:6379' } }] },
        auth: { password: 'pw', token: 't' },
      },
      'request refused',
    );
    const text = JSON.stringify(lines[0]);
    expect(text).not.toMatch(/Bearer abc|hunter2|:pw@|"pw"|"t"/);
    expect(lines[0]).toMatchObject({
      req: { headers: { authorization: '[REDACTED]', 'x-user': 'u1' } },
      redis: { url: 'redis://:[REDACTED]@redis:6379' },
      auth: { password: '[REDACTED]', token: '[REDACTED]' },
    });
  });
});
