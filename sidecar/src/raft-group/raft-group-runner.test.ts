import { describe, expect, it } from '@jest/globals';
import { RAFT_RETRY_MAX_MS, raftRetryDelayMs } from './raft-group-runner.js';

describe('raftRetryDelayMs', () => {
  it('doubles from 1 s per failed start and stops growing at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(raftRetryDelayMs)).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
    expect(raftRetryDelayMs(10_000)).toBe(RAFT_RETRY_MAX_MS);
  });
});
