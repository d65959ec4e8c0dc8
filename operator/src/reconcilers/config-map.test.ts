import { describe, expect, it } from '@jest/globals';
import { canonicalJson } from '../compiler/canonical-json.js';
import type { CompiledConfig } from '../compiler/types.js';
import {
  ASSIGNMENT_EPOCH_ANNOTATION,
  CONFIG_HASH_LABEL,
  MANAGED_BY_LABEL,
  desiredConfigMap,
  planConfigMapWrites,
  type ConfigMapObject,
} from './config-map.js';

function compiled(hash: string, pods: string[]): CompiledConfig {
  const config = { version: hash, app: { host: '127.0.0.1', port: 8080 } };
  return { namespace: 'shop', hash, pods, config, json: canonicalJson(config) };
}

describe('planConfigMapWrites', () => {
  it('creates what is missing with labels, an epoch ≥ now, the config and the pod list', () => {
    const writes = planConfigMapWrites([compiled('aaaa', ['p1', 'p2'])], [], 5000);
    expect(writes).toHaveLength(1);
    const cm = writes[0]?.op === 'apply' ? writes[0].configMap : undefined;
    expect(cm?.metadata.name).toBe('palisade-config-aaaa');
    expect(cm?.metadata.labels).toEqual({
      [MANAGED_BY_LABEL]: 'palisade-operator',
      [CONFIG_HASH_LABEL]: 'aaaa',
    });
    expect(cm?.metadata.annotations?.[ASSIGNMENT_EPOCH_ANNOTATION]).toBe('5000');
    expect(cm?.data?.['pods']).toBe('p1\np2');
    expect(JSON.parse(cm?.data?.['config.json'] ?? '{}')).toEqual({
      version: 'aaaa',
      app: { host: '127.0.0.1', port: 8080 },
    });
  });

  it('writes nothing when every object is already as desired', () => {
    const existing = [
      desiredConfigMap(compiled('aaaa', ['p1']), 10),
      desiredConfigMap(compiled('bbbb', ['p2']), 10),
    ];
    expect(
      planConfigMapWrites([compiled('bbbb', ['p2']), compiled('aaaa', ['p1'])], existing, 99_999),
    ).toEqual([]);
  });

  it('orders writes: gaining objects, then losing ones, then deletions; epoch above every existing one', () => {
    const existing = [
      desiredConfigMap(compiled('old', ['p1', 'p2']), 7000),
      desiredConfigMap(compiled('keep', ['p3', 'p4']), 9000),
      desiredConfigMap(compiled('gone', ['p5']), 8000),
    ];
    // p2 moves from "old" to "keep"; p5's config disappears; "new" is created for p6.
    const writes = planConfigMapWrites(
      [compiled('old', ['p1']), compiled('keep', ['p2', 'p3', 'p4']), compiled('new', ['p6'])],
      existing,
      1000,
    );
    expect(
      writes.map((w) =>
        w.op === 'apply' ? `apply ${w.configMap.metadata.name}` : `delete ${w.name}`,
      ),
    ).toEqual([
      'apply palisade-config-keep',
      'apply palisade-config-new',
      'apply palisade-config-old',
      'delete palisade-config-gone',
    ]);
    for (const w of writes) {
      if (w.op === 'apply')
        expect(w.configMap.metadata.annotations?.[ASSIGNMENT_EPOCH_ANNOTATION]).toBe('9001');
    }
  });

  it('never deletes or counts ConfigMaps it does not manage', () => {
    const foreign: ConfigMapObject = {
      metadata: { name: 'palisade-config-user', namespace: 'shop', labels: { team: 'x' } },
    };
    const unprefixed: ConfigMapObject = {
      metadata: {
        name: 'other',
        namespace: 'shop',
        labels: { [MANAGED_BY_LABEL]: 'palisade-operator' },
      },
    };
    expect(planConfigMapWrites([], [foreign, unprefixed], 0)).toEqual([]);
  });
});
