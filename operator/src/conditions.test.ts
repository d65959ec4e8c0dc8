import { describe, expect, it } from '@jest/globals';
import type { Condition } from '@palisade/crds';
import {
  findCondition,
  setCondition,
  setConditions,
  statusEqual,
  toKubeTime,
} from './conditions.js';

const t0 = '2026-01-01T00:00:00Z';
const t1 = '2026-01-01T00:05:00Z';

const ready: Condition = {
  type: 'Ready',
  status: 'True',
  reason: 'Enforced',
  message: 'enforced on 3 pods',
  lastTransitionTime: t0,
  observedGeneration: 1,
};

describe('setCondition', () => {
  it('adds a missing condition with lastTransitionTime = now', () => {
    const r = setCondition(
      [],
      { type: 'Ready', status: 'False', reason: 'NoMatchingPods', message: 'x' },
      t1,
    );
    expect(r.changed).toBe(true);
    expect(r.conditions).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'NoMatchingPods',
        message: 'x',
        lastTransitionTime: t1,
      },
    ]);
  });

  it('moves lastTransitionTime when the status flips', () => {
    const r = setCondition(
      [ready],
      {
        type: 'Ready',
        status: 'False',
        reason: 'NoMatchingPods',
        message: 'none',
        observedGeneration: 1,
      },
      t1,
    );
    expect(r.changed).toBe(true);
    expect(r.conditions[0]?.lastTransitionTime).toBe(t1);
  });

  it('keeps lastTransitionTime when only reason or message changes, but reports the change', () => {
    const r = setCondition(
      [ready],
      {
        type: 'Ready',
        status: 'True',
        reason: 'Enforced',
        message: 'enforced on 4 pods',
        observedGeneration: 2,
      },
      t1,
    );
    expect(r.changed).toBe(true);
    expect(r.conditions[0]).toEqual({
      ...ready,
      message: 'enforced on 4 pods',
      observedGeneration: 2,
    });
  });

  it('reports no change and returns an equal list when nothing differs', () => {
    const input = [ready];
    const r = setCondition(
      input,
      {
        type: 'Ready',
        status: 'True',
        reason: 'Enforced',
        message: 'enforced on 3 pods',
        observedGeneration: 1,
      },
      t1,
    );
    expect(r.changed).toBe(false);
    expect(r.conditions).toEqual(input);
    expect(r.conditions).not.toBe(input);
    expect(input[0]?.lastTransitionTime).toBe(t0);
  });

  it('leaves other conditions untouched and in place', () => {
    const other: Condition = { ...ready, type: 'Conflicting', status: 'False', reason: 'None' };
    const r = setCondition(
      [other, ready],
      { type: 'Ready', status: 'False', reason: 'R', message: 'm' },
      t1,
    );
    expect(r.conditions.map((c) => c.type)).toEqual(['Conflicting', 'Ready']);
    expect(r.conditions[0]).toBe(other);
  });

  it('accepts a Date and writes second precision', () => {
    const r = setCondition(
      undefined,
      { type: 'Ready', status: 'Unknown', reason: 'R', message: '' },
      new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 789)),
    );
    expect(r.conditions[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
  });
});

describe('setConditions / findCondition', () => {
  it('changed is true when any condition changes and false when none do', () => {
    const same = setConditions(
      [ready],
      [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Enforced',
          message: 'enforced on 3 pods',
          observedGeneration: 1,
        },
      ],
      t1,
    );
    expect(same.changed).toBe(false);
    const more = setConditions(
      [ready],
      [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Enforced',
          message: 'enforced on 3 pods',
          observedGeneration: 1,
        },
        { type: 'Conflicting', status: 'False', reason: 'NoConflict', message: '' },
      ],
      t1,
    );
    expect(more.changed).toBe(true);
    expect(findCondition(more.conditions, 'Conflicting')?.lastTransitionTime).toBe(t1);
    expect(findCondition(more.conditions, 'Missing')).toBeUndefined();
  });
});

describe('statusEqual', () => {
  it('ignores key order and undefined properties', () => {
    expect(statusEqual({ a: 1, b: { c: [1, 2] }, d: undefined }, { b: { c: [1, 2] }, a: 1 })).toBe(
      true,
    );
  });
  it('sees differences in nested values and array order', () => {
    expect(statusEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(statusEqual({ a: { b: 1 } }, { a: { b: 2 } })).toBe(false);
    expect(statusEqual({ a: 1 }, { a: 1, b: 0 })).toBe(false);
    expect(statusEqual(undefined, {})).toBe(false);
  });
});

describe('toKubeTime', () => {
  it('formats epoch milliseconds as RFC 3339 seconds', () => {
    expect(toKubeTime(0)).toBe('1970-01-01T00:00:00Z');
  });
});
