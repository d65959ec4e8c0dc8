import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ConfigStore, type ConfigReloadRecorder } from './config-store.js';
import type { ResolvedConfig } from './defaults.js';
import { ConfigError } from './errors.js';
import { validateConfigDocument } from './load-config.js';

const v1 = { version: 'v1', app: { host: '127.0.0.1', port: 8080 } };

function setup() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const recorded: string[] = [];
  const recorder: ConfigReloadRecorder = {
    recordApplied: (version, at) => recorded.push(`applied ${version} @${at}`),
    recordRejected: (code) => recorded.push(`rejected ${code}`),
  };
  let now = 1_000;
  const store = new ConfigStore({
    initial: validateConfigDocument(v1),
    logger,
    recorder,
    now: () => now,
  });
  return { store, lines, recorded, tick: (ms: number) => (now += ms) };
}

describe('ConfigStore', () => {
  it('starts at generation 1 with the initial config and records it', () => {
    const { store, recorded } = setup();
    expect(store.current()).toMatchObject({ version: 'v1', generation: 1, appliedAt: 1000 });
    expect(recorded).toEqual(['applied v1 @1000']);
    expect(store.status()).toEqual({
      version: 'v1',
      generation: 1,
      appliedAt: new Date(1000).toISOString(),
      lastReload: null,
      lastFailure: null,
    });
  });

  it('prepares every applier, then commits all, then swaps and notifies, in that order', async () => {
    const { store, tick } = setup();
    const events: string[] = [];
    for (const name of ['a', 'b']) {
      store.register({
        name,
        prepare: (next, change, previous) => {
          events.push(
            `prepare ${name} ${previous.version}->${next.version} [${change.sections.join(',')}]`,
          );
          return () => events.push(`commit ${name} sees store at ${store.current().version}`);
        },
      });
    }
    store.subscribe((snapshot, change) =>
      events.push(`notify ${snapshot.version} from ${change.previousVersion}`),
    );
    tick(500);
    const result = await store.apply({ ...v1, version: 'v2', logLevel: 'debug' });
    expect(result.status).toBe('applied');
    expect(events).toEqual([
      'prepare a v1->v2 [logLevel]',
      'prepare b v1->v2 [logLevel]',
      'commit a sees store at v1',
      'commit b sees store at v1',
      'notify v2 from v1',
    ]);
    expect(store.current()).toMatchObject({ version: 'v2', generation: 2, appliedAt: 1500 });
    expect(store.config.logLevel).toBe('debug');
  });

  it('keeps the last good config when a candidate is invalid, and reports it everywhere', async () => {
    const { store, lines, recorded, tick } = setup();
    let prepared = 0;
    store.register({ name: 'x', prepare: () => void prepared++ });
    tick(10);
    const result = await store.apply(
      { version: 'v2', app: { host: '127.0.0.1', port: 0 } },
      '/etc/sidecar.yaml',
    );
    expect(result.status).toBe('rejected');
    expect(prepared).toBe(0);
    expect(store.current().version).toBe('v1');
    expect(store.lastFailure()).toMatchObject({ at: 1010, keptVersion: 'v1' });
    expect(store.status().lastFailure).toMatchObject({
      code: 'CONFIG_INVALID',
      keptVersion: 'v1',
      at: new Date(1010).toISOString(),
    });
    expect(store.status().lastFailure?.message).toContain(
      'app.port: should be greater than or equal to 1',
    );
    expect(recorded).toContain('rejected CONFIG_INVALID');
    const logged = lines.find((l) => l.code === 'CONFIG_INVALID');
    expect(logged).toMatchObject({ level: 50, keptVersion: 'v1', source: '/etc/sidecar.yaml' });
  });

  it('swaps nothing when an applier refuses; no commit runs', async () => {
    const { store } = setup();
    const committed: string[] = [];
    store.register({ name: 'ok', prepare: () => () => committed.push('ok') });
    store.register({
      name: 'rate-limits',
      prepare: () => {
        throw new Error('rule orders: redis url unreachable');
      },
    });
    let notified = false;
    store.subscribe(() => (notified = true));
    const result = await store.apply({ ...v1, version: 'v2' });
    expect(result.status).toBe('rejected');
    if (result.status !== 'rejected') return;
    expect(result.error.code).toBe('CONFIG_APPLY_FAILED');
    expect(result.error.message).toContain('refused by rate-limits: rule orders');
    expect(result.error.cause).toBeInstanceOf(Error);
    expect(committed).toEqual([]);
    expect(notified).toBe(false);
    expect(store.current().version).toBe('v1');
  });

  it('treats identical content as unchanged: no appliers, no new generation', async () => {
    const { store } = setup();
    let prepared = 0;
    store.register({ name: 'x', prepare: () => void prepared++ });
    const result = await store.apply({ ...v1, listeners: { admin: 15000 } });
    expect(result.status).toBe('unchanged');
    expect(prepared).toBe(0);
    expect(store.current().generation).toBe(1);
  });

  it('keeps the Raft peer list in force when a reload carries the same one', async () => {
    const { store } = setup();
    const raft = (limitVersion: string) => ({
      ...v1,
      version: limitVersion,
      raft: {
        group: 'shop/app',
        id: 'a',
        peers: ['a', 'b', 'c'].map((id, i) => ({
          id,
          address: `10.0.0.${i + 1}:15010`,
          voter: true,
        })),
      },
    });
    await store.apply(raft('v2'));
    const peers = store.config.raft?.peers;
    const result = await store.apply({ ...raft('v3'), logLevel: 'debug' });
    expect(result.status === 'applied' && result.change.sections).toEqual(['logLevel']);
    expect(store.config.raft?.peers).toBe(peers);
  });

  it('serializes concurrent applies in call order', async () => {
    const { store } = setup();
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    store.register({
      name: 'slow',
      prepare: async (next: ResolvedConfig) => {
        seen.push(`start ${next.version}`);
        if (next.version === 'v2') await gate;
        seen.push(`end ${next.version}`);
      },
    });
    const first = store.apply({ ...v1, version: 'v2' });
    const second = store.apply({ ...v1, version: 'v3' });
    release();
    await Promise.all([first, second]);
    expect(seen).toEqual(['start v2', 'end v2', 'start v3', 'end v3']);
    expect(store.current()).toMatchObject({ version: 'v3', generation: 3 });
  });

  it('reports the latest attempt: a reverted bad edit is no longer a rejection', async () => {
    const { store, tick } = setup();
    tick(1);
    await store.apply({ version: 'v2', app: { host: '127.0.0.1', port: 0 } });
    expect(store.lastReloadRejected()).toBe(true);
    expect(store.status().lastReload).toEqual({
      status: 'rejected',
      at: new Date(1001).toISOString(),
    });
    tick(1);
    expect((await store.apply(v1)).status).toBe('unchanged');
    expect(store.lastReloadRejected()).toBe(false);
    expect(store.status().lastReload).toEqual({
      status: 'unchanged',
      at: new Date(1002).toISOString(),
    });
    expect(store.status().lastFailure?.code).toBe('CONFIG_INVALID'); // history is kept
  });

  it('records failures reported before a candidate exists', () => {
    const { store, recorded } = setup();
    store.reject(new ConfigError('CONFIG_PARSE_FAILED', 'sidecar.yaml: not valid YAML'));
    expect(store.status().lastFailure?.code).toBe('CONFIG_PARSE_FAILED');
    expect(recorded).toContain('rejected CONFIG_PARSE_FAILED');
  });

  it('unregisters appliers and listeners', async () => {
    const { store } = setup();
    let calls = 0;
    const off = store.register({ name: 'x', prepare: () => void calls++ });
    const unsubscribe = store.subscribe(() => calls++);
    off();
    unsubscribe();
    await store.apply({ ...v1, version: 'v2' });
    expect(calls).toBe(0);
  });
});
