import { describe, expect, it } from '@jest/globals';
import { ConfigMapCache } from './config-map-cache.js';
import { PODS_KEY } from './select-config.js';

function cm(name: string, resourceVersion: string, pods = 'p') {
  return { metadata: { name, resourceVersion }, data: { [PODS_KEY]: pods } };
}

describe('ConfigMapCache', () => {
  it('starts with no resume point; a list replaces everything and sets it', () => {
    const cache = new ConfigMapCache();
    expect(cache.resourceVersion).toBeNull();
    cache.replace([cm('a', '5'), cm('b', '6'), { junk: true }], '10');
    expect([...cache.values()].map((v) => v.name)).toEqual(['a', 'b']);
    expect(cache.resourceVersion).toBe('10');
    cache.replace([cm('c', '11')], '12');
    expect([...cache.values()].map((v) => v.name)).toEqual(['c']);
  });

  it('applies adds, modifications and deletions, moving the resume point with each', () => {
    const cache = new ConfigMapCache();
    cache.replace([], '1');
    expect(cache.apply('ADDED', cm('a', '2'))).toEqual({ kind: 'changed' });
    expect(cache.apply('MODIFIED', cm('a', '3', 'q'))).toEqual({ kind: 'changed' });
    expect([...cache.values()][0]?.podsText).toBe('q');
    expect(cache.apply('DELETED', cm('a', '4'))).toEqual({ kind: 'changed' });
    expect(cache.size).toBe(0);
    expect(cache.resourceVersion).toBe('4');
    // Deleting what is not cached changes nothing.
    expect(cache.apply('DELETED', cm('zz', '5'))).toEqual({ kind: 'unchanged' });
  });

  it('moves only the resume point on a bookmark', () => {
    const cache = new ConfigMapCache();
    cache.replace([cm('a', '2')], '2');
    expect(cache.apply('BOOKMARK', { metadata: { resourceVersion: '99' } })).toEqual({
      kind: 'unchanged',
    });
    expect(cache.resourceVersion).toBe('99');
    expect(cache.size).toBe(1);
  });

  it('turns an ERROR 410 into "expired" and forgets the resume point', () => {
    const cache = new ConfigMapCache();
    cache.replace([cm('a', '2')], '2');
    expect(cache.apply('ERROR', { kind: 'Status', code: 410, reason: 'Expired' })).toEqual({
      kind: 'expired',
    });
    expect(cache.resourceVersion).toBeNull();
    // The objects stay until the relist replaces them: the config in force does not flap.
    expect(cache.size).toBe(1);
  });

  it('reports other ERROR events with their code and message', () => {
    const cache = new ConfigMapCache();
    expect(cache.apply('ERROR', { code: 500, message: 'etcd is sad' })).toEqual({
      kind: 'error',
      message: 'watch error 500: etcd is sad',
    });
    expect(cache.apply('ERROR', null)).toMatchObject({ kind: 'error' });
  });

  it('ignores unusable objects and unknown event types', () => {
    const cache = new ConfigMapCache();
    cache.replace([], '1');
    expect(cache.apply('ADDED', { metadata: {} })).toEqual({ kind: 'unchanged' });
    expect(cache.apply('SOMETHING', cm('a', '3'))).toEqual({ kind: 'unchanged' });
    expect(cache.size).toBe(0);
  });
});
