import { describe, expect, it } from '@jest/globals';
import { RandomHexPool } from './random-hex.js';

describe('RandomHexPool', () => {
  it('hands out lowercase hex of the asked length, across refills, without repeats', () => {
    const pool = new RandomHexPool();
    const ids = Array.from({ length: 1000 }, () => pool.next(16)); // four refills
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(pool.next(8)).toMatch(/^[0-9a-f]{16}$/);
  });
});
