/** The history checker must catch what it is there to catch (otherwise a green run proves nothing). */
import { describe, expect, test } from '@jest/globals';
import { checkLeaseHistory } from './support/history-checker.js';

describe('the history checker', () => {
  const base = { op: 'acquire' as const, outcome: 'granted' as const };
  test('flags overlapping holds of two clients and a token that goes backwards', () => {
    const report = checkLeaseHistory([
      {
        ...base,
        client: 'a',
        name: 'x',
        invokedAt: 0,
        completedAt: 5,
        token: 10,
        validForMs: 1000,
      },
      {
        ...base,
        client: 'b',
        name: 'x',
        invokedAt: 500,
        completedAt: 505,
        token: 9,
        validForMs: 1000,
      },
    ]);
    expect(report.violations.some((v) => v.includes('overlapping'))).toBe(true);
    expect(report.violations.some((v) => v.includes('not strictly increasing'))).toBe(true);
  });

  test('accepts a hand-over after a release and after the safe hold of a grant', () => {
    const report = checkLeaseHistory([
      {
        ...base,
        client: 'a',
        name: 'x',
        invokedAt: 0,
        completedAt: 5,
        token: 10,
        validForMs: 1000,
      },
      {
        client: 'a',
        name: 'x',
        op: 'release',
        outcome: 'released',
        invokedAt: 100,
        completedAt: 110,
        token: 10,
      },
      {
        ...base,
        client: 'b',
        name: 'x',
        invokedAt: 105,
        completedAt: 120,
        token: 12,
        validForMs: 1000,
      },
      {
        ...base,
        client: 'c',
        name: 'x',
        invokedAt: 1500,
        completedAt: 1505,
        token: 14,
        validForMs: 1000,
      },
    ]);
    expect(report.violations).toEqual([]);
    expect(report.holds).toHaveLength(3);
  });
});
