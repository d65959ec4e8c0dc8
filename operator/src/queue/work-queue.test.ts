import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import { WorkQueue } from './work-queue.js';

function setup(options: Partial<ConstructorParameters<typeof WorkQueue>[0]> = {}) {
  const scheduler = new ManualScheduler();
  return { scheduler, queue: new WorkQueue({ scheduler, ...options }) };
}

describe('WorkQueue', () => {
  it('de-duplicates keys and hands them out in order', async () => {
    const { queue } = setup();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.length).toBe(0);
  });

  it('never hands out a key that is processing; a re-add during processing runs after done', async () => {
    const { queue } = setup();
    queue.add('a');
    expect(await queue.get()).toBe('a');
    queue.add('a');
    queue.add('a');
    expect(queue.length).toBe(0);
    expect(queue.isProcessing('a')).toBe(true);
    queue.done('a');
    expect(queue.length).toBe(1);
    expect(await queue.get()).toBe('a');
    queue.done('a');
    expect(queue.length).toBe(0);
  });

  it('a waiting get receives the next added key', async () => {
    const { queue } = setup();
    const pending = queue.get();
    queue.add('x');
    expect(await pending).toBe('x');
    expect(queue.isProcessing('x')).toBe(true);
  });

  it('addAfter delays a key until its time; the earliest pending delay wins', async () => {
    const { queue, scheduler } = setup();
    queue.addAfter('a', 100);
    queue.addAfter('a', 50);
    queue.addAfter('a', 200);
    expect(queue.delayedCount).toBe(1);
    scheduler.advance(49);
    expect(queue.length).toBe(0);
    scheduler.advance(1);
    expect(queue.length).toBe(1);
    scheduler.advance(1000);
    expect(await queue.get()).toBe('a');
    expect(queue.length).toBe(0);
  });

  it('addRateLimited backs off exponentially per key and forget resets it', () => {
    const { queue } = setup();
    expect([
      queue.addRateLimited('a'),
      queue.addRateLimited('a'),
      queue.addRateLimited('a'),
    ]).toEqual([5, 10, 20]);
    expect(queue.addRateLimited('b')).toBe(5);
    expect(queue.retries('a')).toBe(3);
    queue.forget('a');
    expect(queue.addRateLimited('a')).toBe(5);
  });

  it('addRateLimited is also bounded by the global token bucket', () => {
    const { queue } = setup({ rateLimit: { perSecond: 1, burst: 1 }, backoff: { baseMs: 1 } });
    expect(queue.addRateLimited('a')).toBe(1);
    expect(queue.addRateLimited('b')).toBe(1000);
  });

  it('after shutDown: ignores adds, drops delayed keys, drains queued keys, then get is undefined', async () => {
    const { queue, scheduler } = setup();
    queue.add('queued');
    queue.addAfter('later', 10);
    queue.shutDown();
    queue.add('ignored');
    scheduler.advance(100);
    expect(queue.delayedCount).toBe(0);
    expect(await queue.get()).toBe('queued');
    expect(await queue.get()).toBeUndefined();
  });

  it('shutDown releases idle getters', async () => {
    const { queue } = setup();
    const pending = queue.get();
    queue.shutDown();
    expect(await pending).toBeUndefined();
  });

  it('whenIdle resolves once nothing is queued or processing', async () => {
    const { queue } = setup();
    queue.add('a');
    let idle = false;
    const p = queue.whenIdle().then(() => {
      idle = true;
    });
    const key = await queue.get();
    await Promise.resolve();
    expect(idle).toBe(false);
    queue.done(key as string);
    await p;
    expect(idle).toBe(true);
  });
});
