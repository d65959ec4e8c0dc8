import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import { objectKey, splitKey, type ObjectLike } from './object-key.js';
import { ObjectStore } from './object-store.js';
import { podInfoFromPod } from './pod-info.js';
import {
  InformerSet,
  ResourceInformer,
  type InformerEvent,
  type ListWatchPort,
} from './resource-informer.js';

interface Obj extends ObjectLike {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}
const obj = (namespace: string, name: string, resourceVersion = '1'): Obj => ({
  metadata: { namespace, name, resourceVersion },
});
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A scripted stand-in for client-node's ListWatch: each start() runs the next scripted
 * attempt, which either lists (through the wrapper's list function) or fails like the real one
 * (error callbacks, then stop).
 */
class ScriptedListWatch implements ListWatchPort<Obj> {
  readonly store = new ObjectStore<Obj>();
  readonly callbacks: Record<string, ((x: never) => void)[]> = {
    add: [],
    update: [],
    delete: [],
    error: [],
  };
  attempts: ({ list: Obj[] } | { error: Error })[] = [];
  starts = 0;
  constructor(private readonly wrapList: <L>(inner: () => Promise<L>) => Promise<L>) {}
  on(verb: string, cb: (x: never) => void): void {
    this.callbacks[verb]?.push(cb);
  }
  get(name: string, namespace?: string) {
    return this.store.get(name, namespace);
  }
  list(namespace?: string) {
    return this.store.list(namespace);
  }
  async start(): Promise<void> {
    this.starts += 1;
    const next = this.attempts.shift();
    if (next === undefined) return;
    if ('error' in next) {
      for (const cb of this.callbacks['error'] ?? []) cb(next.error as never);
      return;
    }
    const items = await this.wrapList(async () => next.list);
    for (const e of this.store.replace(items)) this.fire(e.type, e.object);
  }
  async stop(): Promise<void> {}
  /** A watch event. */
  fire(verb: 'add' | 'update' | 'delete', o: Obj): void {
    for (const cb of this.callbacks[verb] ?? []) cb(o as never);
  }
}

function setup(resyncMs = 0) {
  const scheduler = new ManualScheduler();
  let fake: ScriptedListWatch | undefined;
  const errors: number[] = [];
  const informer = new ResourceInformer<Obj>({
    name: 'things',
    scheduler,
    resyncMs,
    createListWatch: (wrap) => (fake = new ScriptedListWatch(wrap)),
    onError: (_e, delay) => errors.push(delay),
  });
  const events: string[] = [];
  informer.onEvent((e: InformerEvent<Obj>) => events.push(`${e.type} ${objectKey(e.object)}`));
  return { scheduler, informer, fake: fake as unknown as ScriptedListWatch, events, errors };
}

describe('objectKey / splitKey', () => {
  it('round-trips namespaced and cluster-scoped keys', () => {
    expect(objectKey(obj('shop', 'a'))).toBe('shop/a');
    expect(objectKey({ metadata: { name: 'n' } })).toBe('n');
    expect(splitKey('shop/a')).toEqual({ namespace: 'shop', name: 'a' });
    expect(splitKey('n')).toEqual({ namespace: '', name: 'n' });
  });
});

describe('ObjectStore', () => {
  it('replace reports adds, updates and deletes against the cached content', () => {
    const store = new ObjectStore<Obj>();
    store.replace([obj('a', 'x'), obj('a', 'y'), obj('b', 'z')]);
    const events = store.replace([obj('a', 'x', '2'), obj('b', 'w')]);
    expect(events.map((e) => `${e.type} ${objectKey(e.object)}`)).toEqual([
      'delete a/y',
      'delete b/z',
      'update a/x',
      'add b/w',
    ]);
    expect(store.list().map(objectKey)).toEqual(['a/x', 'b/w']);
    expect(store.list('a')).toHaveLength(1);
    expect(store.get('x', 'a')?.metadata.resourceVersion).toBe('2');
    expect(store.remove(obj('a', 'missing'))).toBeUndefined();
    expect(store.size).toBe(2);
  });
});

describe('ResourceInformer', () => {
  it('is not synced before the first full list, and is after it', async () => {
    const t = setup();
    expect(t.informer.hasSynced()).toBe(false);
    t.fake.attempts.push({ list: [obj('shop', 'a')] });
    await t.informer.start();
    expect(t.informer.hasSynced()).toBe(true);
    expect(t.events).toEqual(['add shop/a']);
    expect(t.informer.get('a', 'shop')).toBeDefined();
  });

  it('restarts after errors with capped exponential backoff, then syncs; the backoff resets on success', async () => {
    const t = setup();
    t.fake.attempts.push(
      { error: new Error('connection refused') },
      { error: new Error('connection refused') },
      { list: [] },
    );
    await t.informer.start();
    expect(t.informer.hasSynced()).toBe(false);
    expect(t.errors).toEqual([800]);
    t.scheduler.advance(799);
    await settle();
    expect(t.fake.starts).toBe(1);
    t.scheduler.advance(1);
    await settle();
    expect(t.fake.starts).toBe(2);
    expect(t.errors).toEqual([800, 1600]);
    t.scheduler.advance(1600);
    await settle();
    expect(t.informer.hasSynced()).toBe(true);
    t.fake.attempts.push({ list: [] });
    t.fake.callbacks['error']?.forEach((cb) => cb(new Error('watch broke') as never));
    expect(t.errors).toEqual([800, 1600, 800]);
  });

  it('passes watch events on and stays synced across a failing relist', async () => {
    const t = setup();
    t.fake.attempts.push({ list: [] });
    await t.informer.start();
    t.fake.fire('add', obj('shop', 'b'));
    t.fake.fire('delete', obj('shop', 'b'));
    t.fake.callbacks['error']?.forEach((cb) =>
      cb(new Error('410 handled elsewhere; this is a 500') as never),
    );
    expect(t.informer.hasSynced()).toBe(true);
    expect(t.events).toEqual(['add shop/b', 'delete shop/b']);
  });

  it('re-announces every cached object each resync period, once synced', async () => {
    const t = setup(1000);
    t.fake.attempts.push({ list: [obj('shop', 'a'), obj('shop', 'b')] });
    await t.informer.start();
    t.events.length = 0;
    t.scheduler.advance(1000);
    expect(t.events).toEqual(['resync shop/a', 'resync shop/b']);
    await t.informer.stop();
    t.scheduler.advance(5000);
    expect(t.events).toHaveLength(2);
  });

  it('InformerSet is ready only when every informer has synced', async () => {
    const a = setup();
    const b = setup();
    const set = new InformerSet([a.informer, b.informer]);
    a.fake.attempts.push({ list: [] });
    await a.informer.start();
    expect(set.allSynced()).toBe(false);
    let ready = false;
    const waiting = set.whenSynced().then(() => {
      ready = true;
    });
    await settle();
    expect(ready).toBe(false);
    b.fake.attempts.push({ list: [] });
    await b.informer.start();
    await waiting;
    expect(set.allSynced()).toBe(true);
  });
});

describe('podInfoFromPod', () => {
  it('maps readiness, IP, app port, termination and Date or string timestamps', () => {
    const info = podInfoFromPod({
      metadata: {
        name: 'p',
        namespace: 'shop',
        labels: { app: 'x' },
        annotations: { 'palisade.dev/app-port': '9090' },
        creationTimestamp: new Date(Date.UTC(2026, 0, 1)),
        deletionTimestamp: '2026-01-02T00:00:00Z',
      },
      status: { podIP: '10.1.2.3', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(info).toEqual({
      namespace: 'shop',
      name: 'p',
      labels: { app: 'x' },
      creationTimestamp: '2026-01-01T00:00:00.000Z',
      ready: true,
      podIP: '10.1.2.3',
      appPort: 9090,
      terminating: true,
    });
  });
  it('ignores an invalid app port and treats a missing Ready condition as not ready', () => {
    const info = podInfoFromPod({
      metadata: {
        name: 'p',
        namespace: 's',
        annotations: { 'palisade.dev/app-port': '70000' },
        creationTimestamp: '2026-01-01T00:00:00Z',
      },
    });
    expect(info.appPort).toBeUndefined();
    expect(info.ready).toBe(false);
    expect(info.podIP).toBeUndefined();
  });
});
