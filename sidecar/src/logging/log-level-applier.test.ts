import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { ConfigStore } from '../config/config-store.js';
import { validateConfigDocument } from '../config/load-config.js';
import { logLevelApplier } from './log-level-applier.js';
import { createLogging } from './logging.js';

describe('logLevelApplier', () => {
  it('moves every logger to the level of the new config', async () => {
    const sink = new Writable({ write: (_c, _e, done) => done() });
    const logging = createLogging({ level: 'info', destination: sink });
    const raft = logging.child('raft');
    const base = { version: 'v1', app: { host: '127.0.0.1', port: 8080 } };
    const store = new ConfigStore({ initial: validateConfigDocument(base) });
    store.register(logLevelApplier(logging));
    await store.apply({ ...base, version: 'v2', logLevel: 'debug' });
    expect(raft.isLevelEnabled('debug')).toBe(true);
    expect(logging.root.level).toBe('debug');
    await store.apply({ ...base, version: 'v3', logLevel: 'error' });
    expect(raft.isLevelEnabled('warn')).toBe(false);
  });
});
