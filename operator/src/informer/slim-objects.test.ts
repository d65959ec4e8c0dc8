import { describe, expect, it } from '@jest/globals';
import { podInfoFromPod } from './pod-info.js';
import { slimPod, transformingWatch, type SlimPod, type WatchLike } from './slim-objects.js';

const fullPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'p',
    namespace: 'shop',
    uid: 'u-1',
    resourceVersion: '42',
    labels: { app: 'x' },
    annotations: {
      'palisade.dev/app-port': '9090',
      'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(5000),
    },
    creationTimestamp: '2026-01-01T00:00:00Z',
    managedFields: [{ manager: 'kubelet' }],
  },
  spec: { containers: [{ name: 'app', image: 'app:1', env: [{ name: 'A', value: 'b' }] }] },
  status: {
    podIP: '10.0.0.1',
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: '2026-01-01T00:00:01Z',
      },
    ],
    containerStatuses: [{ name: 'app', restartCount: 3 }],
  },
} as unknown as SlimPod;

describe('slimPod', () => {
  it('keeps what the operator reads and drops the rest', () => {
    const slim = slimPod(fullPod);
    expect(podInfoFromPod(slim)).toEqual(podInfoFromPod(fullPod));
    expect(slim.metadata?.resourceVersion).toBe('42');
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(fullPod).length / 10);
    expect(slim).not.toHaveProperty('spec');
    expect(slim.metadata?.annotations).toEqual({ 'palisade.dev/app-port': '9090' });
  });
});

describe('transformingWatch', () => {
  it('transforms object events and passes ERROR events (410 Gone) untouched', async () => {
    const seen: [string, unknown][] = [];
    const inner: WatchLike = {
      async watch(_path, _query, callback) {
        callback('ADDED', { n: 1 });
        callback('ERROR', { code: 410 });
        callback('DELETED', { n: 2 });
        return new AbortController();
      },
    };
    const watch = transformingWatch<{ n: number }>(inner, (o) => ({ n: o.n * 10 }));
    await watch.watch(
      '/api/v1/pods',
      {},
      (phase, obj) => seen.push([phase, obj]),
      () => undefined,
    );
    expect(seen).toEqual([
      ['ADDED', { n: 10 }],
      ['ERROR', { code: 410 }],
      ['DELETED', { n: 20 }],
    ]);
  });
});
