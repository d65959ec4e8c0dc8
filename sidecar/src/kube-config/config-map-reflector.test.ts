/**
 * The reflector's recovery paths against a scripted client: 410 Gone (a status or an ERROR
 * event) relists, a closed watch resumes from the last resourceVersion, and failures back off.
 * A scripted port rather than the API server because a real one cannot be made to answer 410 on
 * demand; the real watch is covered by operator/test/sidecar-kube-config.e2e.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { SeededRandom } from '../core/random.js';
import { ConfigMapReflector, type ConfigMapClient } from './config-map-reflector.js';
import { PODS_KEY } from './select-config.js';

type WatchStep =
  | { events: [string, unknown][]; end: 'close' | { statusCode: number } | 'open' }
  | { refuse: { statusCode: number } };

/** A client whose lists and watches follow a script, recording the calls made. */
class ScriptedClient implements ConfigMapClient {
  readonly calls: string[] = [];
  constructor(
    private readonly lists: { items: unknown[]; resourceVersion: string }[],
    private readonly watches: WatchStep[],
  ) {}

  list() {
    const next = this.lists.shift();
    this.calls.push(`list`);
    if (next === undefined) return Promise.reject(new Error('no more lists'));
    return Promise.resolve(next);
  }

  watch(
    resourceVersion: string,
    onEvent: (type: string, object: unknown) => void,
    onDone: (error: unknown) => void,
  ) {
    this.calls.push(`watch@${resourceVersion}`);
    const step = this.watches.shift() ?? { events: [], end: 'open' as const };
    const aborted = { value: false };
    setImmediate(() => {
      if ('refuse' in step) {
        onDone(Object.assign(new Error('refused'), step.refuse));
        return;
      }
      for (const [type, object] of step.events) if (!aborted.value) onEvent(type, object);
      if (aborted.value || step.end === 'open') return;
      onDone(step.end === 'close' ? null : Object.assign(new Error('failed'), step.end));
    });
    return Promise.resolve({
      abort: () => {
        if (aborted.value) return;
        aborted.value = true;
        onDone(new Error('aborted'));
      },
    });
  }
}

function cm(name: string, resourceVersion: string) {
  return { metadata: { name, resourceVersion }, data: { [PODS_KEY]: 'p' } };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function reflector(client: ConfigMapClient, seen: string[][], errors: unknown[] = []) {
  return new ConfigMapReflector({
    client,
    random: new SeededRandom(1),
    backoff: { baseMs: 1, capMs: 4 },
    onChange: (objects) => seen.push([...objects].map((o) => `${o.name}@${o.resourceVersion}`)),
    onError: (error) => errors.push(error),
  });
}

describe('ConfigMapReflector', () => {
  it('lists, then watches from the list version and resumes from the last event after a close', async () => {
    const client = new ScriptedClient(
      [{ items: [cm('a', '5')], resourceVersion: '10' }],
      [
        {
          events: [
            ['ADDED', cm('b', '11')],
            ['BOOKMARK', { metadata: { resourceVersion: '15' } }],
          ],
          end: 'close',
        },
        { events: [['DELETED', cm('a', '16')]], end: 'open' },
      ],
    );
    const seen: string[][] = [];
    const r = reflector(client, seen);
    r.start();
    expect(await r.whenSynced(5000)).toBe(true);
    await until('the deletion', () => seen.length === 3);
    expect(seen).toEqual([['a@5'], ['a@5', 'b@11'], ['b@11']]);
    expect(client.calls).toEqual(['list', 'watch@10', 'watch@15']);
    await r.stop();
  });

  it('relists at once on 410 Gone, whether refused or sent as an ERROR event', async () => {
    const client = new ScriptedClient(
      [
        { items: [cm('a', '5')], resourceVersion: '10' },
        { items: [cm('c', '30')], resourceVersion: '30' },
        { items: [cm('d', '40')], resourceVersion: '40' },
      ],
      [
        { refuse: { statusCode: 410 } },
        { events: [['ERROR', { kind: 'Status', code: 410, reason: 'Expired' }]], end: 'open' },
      ],
    );
    const seen: string[][] = [];
    const errors: unknown[] = [];
    const r = reflector(client, seen, errors);
    r.start();
    await until('the third list', () => seen.length === 3);
    expect(seen).toEqual([['a@5'], ['c@30'], ['d@40']]);
    expect(client.calls).toEqual(['list', 'watch@10', 'list', 'watch@30', 'list', 'watch@40']);
    // 410 is routine, not a failure.
    expect(errors).toEqual([]);
    await r.stop();
  });

  it('keeps its cache through failures, retrying with backoff, and reports each failure', async () => {
    const client = new ScriptedClient(
      [{ items: [cm('a', '5')], resourceVersion: '10' }],
      [
        { refuse: { statusCode: 503 } },
        { events: [['ERROR', { code: 500, message: 'boom' }]], end: 'open' },
        { events: [], end: 'close' },
        { events: [['ADDED', cm('b', '12')]], end: 'open' },
      ],
    );
    const seen: string[][] = [];
    const errors: unknown[] = [];
    const r = reflector(client, seen, errors);
    r.start();
    await until('the added object', () => seen.length === 2);
    expect(seen).toEqual([['a@5'], ['a@5', 'b@12']]);
    expect(client.calls).toEqual(['list', 'watch@10', 'watch@10', 'watch@10', 'watch@10']);
    expect(errors.map((e) => (e as Error).message)).toEqual([
      'refused',
      'watch error 500: boom',
      'watch closed at once',
    ]);
    expect([...r.objects()].map((o) => o.name)).toEqual(['a', 'b']);
    await r.stop();
  });

  it('reports not synced when the first list fails until the timeout', async () => {
    const r = reflector(new ScriptedClient([], []), []);
    r.start();
    expect(await r.whenSynced(20)).toBe(false);
    expect(r.hasSynced()).toBe(false);
    await r.stop();
  });
});
