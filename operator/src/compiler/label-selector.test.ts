import { describe, expect, it } from '@jest/globals';
import type { LabelSelector } from '@palisade/crds';
import { LabelIndex } from './label-index.js';
import {
  compileSelector,
  labelKeyProblem,
  selectorMatches,
  type CompiledSelector,
} from './label-selector.js';

function compiled(selector: LabelSelector): CompiledSelector {
  const r = compileSelector(selector);
  if (!r.ok) throw new Error(r.message);
  return r.selector;
}

const web = { app: 'web', tier: 'front' };
const api = { app: 'api', tier: 'back', canary: 'true' };
const bare = {};

describe('selectorMatches', () => {
  it('matchLabels requires every label with the exact value', () => {
    const s = compiled({ matchLabels: { app: 'web', tier: 'front' } });
    expect(selectorMatches(s, web)).toBe(true);
    expect(selectorMatches(s, { app: 'web' })).toBe(false);
    expect(selectorMatches(s, { app: 'web', tier: 'back' })).toBe(false);
  });

  it('In and NotIn compare against a set; NotIn also holds when the key is absent', () => {
    const inS = compiled({
      matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }],
    });
    expect([web, api, bare].map((l) => selectorMatches(inS, l))).toEqual([true, true, false]);
    const notIn = compiled({
      matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }],
    });
    expect([web, api, bare].map((l) => selectorMatches(notIn, l))).toEqual([false, true, true]);
  });

  it('Exists and DoesNotExist look only at the key', () => {
    const exists = compiled({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] });
    const absent = compiled({ matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] });
    expect([web, api].map((l) => selectorMatches(exists, l))).toEqual([false, true]);
    expect([web, api].map((l) => selectorMatches(absent, l))).toEqual([true, false]);
  });

  it('combines matchLabels and matchExpressions with AND', () => {
    const s = compiled({
      matchLabels: { tier: 'back' },
      matchExpressions: [{ key: 'canary', operator: 'Exists' }],
    });
    expect([web, api, { tier: 'back' }].map((l) => selectorMatches(s, l))).toEqual([
      false,
      true,
      false,
    ]);
  });

  it('an empty selector matches everything', () => {
    expect(selectorMatches(compiled({}), bare)).toBe(true);
  });

  it('does not treat inherited object properties as labels', () => {
    const s = compiled({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] });
    expect(selectorMatches(s, {})).toBe(false);
  });
});

describe('compileSelector refuses what the API server would', () => {
  it.each<[string, LabelSelector, RegExp]>([
    [
      'In without values',
      { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] },
      /needs at least one value/,
    ],
    [
      'NotIn without values',
      { matchExpressions: [{ key: 'a', operator: 'NotIn' }] },
      /needs at least one value/,
    ],
    [
      'Exists with values',
      { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
      /takes no values/,
    ],
    ['a bad key', { matchLabels: { 'bad key': 'x' } }, /label key "bad key"/],
    ['a bad prefix', { matchLabels: { 'Bad_Prefix/x': 'y' } }, /prefix must be a DNS subdomain/],
    ['a bad value', { matchLabels: { app: '-web' } }, /label value "-web"/],
    [
      'a too long value',
      { matchExpressions: [{ key: 'a', operator: 'In', values: ['x'.repeat(64)] }] },
      /label value/,
    ],
  ])('%s', (_name, selector, message) => {
    const r = compileSelector(selector);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('accepts prefixed keys and empty values', () => {
    expect(labelKeyProblem('app.kubernetes.io/name')).toBeUndefined();
    expect(compileSelector({ matchLabels: { 'palisade.dev/raft-group': '' } }).ok).toBe(true);
  });
});

describe('LabelIndex', () => {
  const labels = [web, api, bare, { app: 'web', tier: 'back' }, { app: 'batch', canary: 'false' }];
  const index = new LabelIndex();
  labels.forEach((l, id) => index.add(id, l));
  const brute = (s: CompiledSelector) =>
    labels.flatMap((l, id) => (selectorMatches(s, l) ? [id] : []));

  it.each<[string, LabelSelector]>([
    ['matchLabels', { matchLabels: { app: 'web' } }],
    ['two labels', { matchLabels: { app: 'web', tier: 'back' } }],
    ['In', { matchExpressions: [{ key: 'app', operator: 'In', values: ['batch', 'web'] }] }],
    ['NotIn only', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }],
    ['Exists', { matchExpressions: [{ key: 'canary', operator: 'Exists' }] }],
    ['DoesNotExist', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }],
    ['empty', {}],
    ['unknown value', { matchLabels: { app: 'nope' } }],
    [
      'contradiction',
      {
        matchExpressions: [
          { key: 'app', operator: 'In', values: ['web'] },
          { key: 'app', operator: 'DoesNotExist' },
        ],
      },
    ],
  ])('select agrees with brute force: %s', (_name, selector) => {
    const s = compiled(selector);
    expect(index.select(s)).toEqual(brute(s));
  });

  it('returns ids ascending even when merging several values', () => {
    expect(
      index.select(
        compiled({
          matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api', 'batch'] }],
        }),
      ),
    ).toEqual([0, 1, 3, 4]);
    expect(index.size).toBe(5);
  });
});
