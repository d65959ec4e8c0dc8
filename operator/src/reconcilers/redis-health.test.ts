import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import { RedisHealth } from './redis-health.js';

/** A check whose answers the test scripts, counting calls; resolves when `settle` is called. */
function scriptedCheck() {
  const calls: string[] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    calls,
    check: (url: string) => {
      calls.push(url);
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
    answer(ok: boolean) {
      for (const p of pending.splice(0)) {
        if (ok) p.resolve();
        else p.reject(new Error('ECONNREFUSED'));
      }
    },
  };
}

describe('RedisHealth', () => {
  it('checks a URL once per interval and shares the answer and the check in flight', async () => {
    const clock = new ManualScheduler();
    const script = scriptedCheck();
    const health = new RedisHealth({ check: script.check, clock, intervalMs: 10_000 });
    const a = health.state('redis://r:6379');
    const b = health.state('redis://r:6379');
    script.answer(true);
    expect(await a).toMatchObject({ reachable: true });
    expect(await b).toMatchObject({ reachable: true });
    expect(script.calls).toEqual(['redis://r:6379']);
    clock.advance(9_999);
    expect(await health.state('redis://r:6379')).toMatchObject({ reachable: true });
    expect(script.calls).toHaveLength(1);
    // Stale: checked again, and now Redis is down.
    clock.advance(1);
    const c = health.state('redis://r:6379');
    script.answer(false);
    expect(await c).toEqual({ reachable: false, detail: 'ECONNREFUSED', checkedAt: 10_000 });
    expect(script.calls).toHaveLength(2);
  });

  it('keeps one answer per URL', async () => {
    const clock = new ManualScheduler();
    const script = scriptedCheck();
    const health = new RedisHealth({ check: script.check, clock });
    const up = health.state('redis://up:6379');
    script.answer(true);
    const down = health.state('redis://down:6379');
    script.answer(false);
    expect((await up).reachable).toBe(true);
    expect((await down).reachable).toBe(false);
  });
});
