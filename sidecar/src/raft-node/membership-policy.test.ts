import { describe, expect, test } from '@jest/globals';
import { desiredConf, nextConfChange, type PeerSpec } from './membership-policy.js';

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
});
