import { describe, expect, test } from '@jest/globals';
import {
  desiredConf,
  discoveryDecision,
  nextConfChange,
  type PeerSpec,
} from './membership-policy.js';

const peer = (id: string, voter = true): PeerSpec => ({ id, address: `${id}:15010`, voter });

describe('membership policy', () => {
  test('the first five voter-flagged peers vote, the rest learn', () => {
    const peers = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => peer(id)).concat(peer('g', false));
    expect(desiredConf(peers)).toEqual({ voters: ['a', 'b', 'c', 'd', 'e'], learners: ['f', 'g'] });
  });

  test('one change at a time: remove departed, add as learner, promote when caught up, demote', () => {
    const current = { voters: ['a', 'b', 'x'], learners: [] };
    const desired = { voters: ['a', 'b', 'c'], learners: [] };
    expect(nextConfChange(current, desired, () => true)).toEqual({
      type: 'removeNode',
      nodeId: 'x',
    });
    const afterRemove = { voters: ['a', 'b'], learners: [] };
    expect(nextConfChange(afterRemove, desired, () => true)).toEqual({
      type: 'addLearner',
      nodeId: 'c',
    });
    const learning = { voters: ['a', 'b'], learners: ['c'] };
    expect(nextConfChange(learning, desired, () => false)).toBeUndefined();
    expect(nextConfChange(learning, desired, () => true)).toEqual({
      type: 'promoteLearner',
      nodeId: 'c',
    });
    expect(nextConfChange(desired, desired, () => true)).toBeUndefined();
    const tooMany = { voters: ['a', 'b', 'c', 'd'], learners: [] };
    expect(
      nextConfChange(tooMany, { voters: ['a', 'b', 'c'], learners: ['d'] }, () => true),
    ).toEqual({
      type: 'removeNode',
      nodeId: 'd',
    });
  });

  test('never removes the last voter', () => {
    expect(
      nextConfChange({ voters: ['a'], learners: [] }, { voters: [], learners: [] }, () => true),
    ).toBeUndefined();
  });

  describe('discovery: bootstrap or join', () => {
    const three = { voters: ['a', 'b', 'c'], learners: [] };
    const replies = (entries: [string, boolean][]) => new Map(entries);

    test('joins as soon as any peer belongs to a group', () => {
      expect(
        discoveryDecision(
          'c',
          three,
          replies([
            ['b', false],
            ['a', true],
          ]),
        ),
      ).toBe('join');
      expect(discoveryDecision('z', three, replies([['x', true]]))).toBe('join');
    });

    test('bootstraps only once every other voter said it belongs to none', () => {
      expect(
        discoveryDecision(
          'c',
          three,
          replies([
            ['a', false],
            ['b', false],
          ]),
        ),
      ).toBe('bootstrap');
      // The case of issues #5/#9: b (joined, no log yet) said no, a (the running group's leader)
      // had not answered yet. A quorum of "no" used to bootstrap a second group here.
      expect(discoveryDecision('c', three, replies([['b', false]]))).toBeUndefined();
      expect(discoveryDecision('c', three, replies([]))).toBeUndefined();
    });

    test('a sole voter bootstraps at once; a learner never bootstraps', () => {
      expect(discoveryDecision('a', { voters: ['a'], learners: ['b'] }, replies([]))).toBe(
        'bootstrap',
      );
      expect(
        discoveryDecision('b', { voters: ['a'], learners: ['b'] }, replies([['a', false]])),
      ).toBeUndefined();
    });

    test('learners need not answer for a bootstrap', () => {
      const conf = { voters: ['a', 'b', 'c'], learners: ['d'] };
      expect(
        discoveryDecision(
          'a',
          conf,
          replies([
            ['b', false],
            ['c', false],
          ]),
        ),
      ).toBe('bootstrap');
    });
  });
});
