import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import { Controller, type ReconcileOutcome, type ReconcileResult } from './controller.js';
import { ReconcileTimeoutError, TerminalReconcileError } from './errors.js';

/** Lets every pending promise continuation run (one macrotask turn; not a sleep). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Call {
  key: string;
  signal: AbortSignal;
  resolve: (r?: ReconcileResult) => void;
  reject: (e: unknown) => void;
}

/** A reconcile whose calls the test completes by hand. */
function manualReconcile() {
  const calls: Call[] = [];
  const active = new Map<string, number>();
  let maxConcurrentSameKey = 0;
  const reconcile = (key: string, signal: AbortSignal) =>
    new Promise<ReconcileResult | void>((resolve, reject) => {
      const n = (active.get(key) ?? 0) + 1;
      active.set(key, n);
      maxConcurrentSameKey = Math.max(maxConcurrentSameKey, n);
      const finish = () => active.set(key, (active.get(key) ?? 1) - 1);
      calls.push({
        key,
        signal,
        resolve: (r) => {
          finish();
          resolve(r);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      });
    });
  return { calls, reconcile, maxConcurrentSameKey: () => maxConcurrentSameKey };
}

function setup(workers = 2, extra: { reconcileTimeoutMs?: number } = {}) {
  const scheduler = new ManualScheduler();
  const manual = manualReconcile();
  const outcomes: { key: string; outcome: ReconcileOutcome }[] = [];
  const controller = new Controller({
    name: 'test',
    scheduler,
    workers,
    reconcile: manual.reconcile,
    onReconciled: (key, outcome) => outcomes.push({ key, outcome }),
    ...extra,
  });
  controller.start();
  return { scheduler, controller, outcomes, ...manual };
}

describe('Controller', () => {
  it('never reconciles the same key twice at once; a re-add during a run runs once after it', async () => {
    const t = setup(4);
    t.controller.enqueue('a');
    await settle();
    t.controller.enqueue('a');
    t.controller.enqueue('a');
    await settle();
    expect(t.calls).toHaveLength(1);
    t.calls[0]?.resolve();
    await settle();
    expect(t.calls).toHaveLength(2);
    t.calls[1]?.resolve();
    await settle();
    expect(t.calls).toHaveLength(2);
    expect(t.maxConcurrentSameKey()).toBe(1);
  });

  it('runs different keys in parallel up to the worker count', async () => {
    const t = setup(2);
    ['a', 'b', 'c'].forEach((k) => t.controller.enqueue(k));
    await settle();
    expect(t.calls.map((c) => c.key)).toEqual(['a', 'b']);
    t.calls[1]?.resolve();
    await settle();
    expect(t.calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
  });

  it('retries a failing key with per-key exponential backoff and forgets it on success', async () => {
    const t = setup(1);
    t.controller.enqueue('a');
    await settle();
    t.calls[0]?.reject(new Error('conflict'));
    await settle();
    expect(t.outcomes[0]?.outcome).toMatchObject({ result: 'error', retryInMs: 5 });
    t.scheduler.advance(4);
    await settle();
    expect(t.calls).toHaveLength(1);
    t.scheduler.advance(1);
    await settle();
    expect(t.calls).toHaveLength(2);
    t.calls[1]?.reject(new Error('again'));
    await settle();
    expect(t.outcomes[1]?.outcome).toMatchObject({ result: 'error', retryInMs: 10 });
    t.scheduler.advance(10);
    await settle();
    t.calls[2]?.resolve();
    await settle();
    expect(t.outcomes[2]?.outcome).toEqual({ result: 'success' });
    expect(t.controller.queue.retries('a')).toBe(0);
  });

  it('does not retry a terminal error', async () => {
    const t = setup(1);
    t.controller.enqueue('a');
    await settle();
    t.calls[0]?.reject(new TerminalReconcileError('spec cannot work'));
    await settle();
    t.scheduler.advance(10_000_000);
    await settle();
    expect(t.calls).toHaveLength(1);
    expect(t.outcomes[0]?.outcome.result).toBe('terminal');
    expect(t.controller.queue.delayedCount).toBe(0);
  });

  it('aborts a reconcile at its deadline, reports the timeout and retries', async () => {
    const t = setup(1, { reconcileTimeoutMs: 1000 });
    t.controller.enqueue('slow');
    await settle();
    const call = t.calls[0] as Call;
    call.signal.addEventListener('abort', () => call.reject(call.signal.reason));
    t.scheduler.advance(999);
    expect(call.signal.aborted).toBe(false);
    t.scheduler.advance(1);
    expect(call.signal.aborted).toBe(true);
    await settle();
    const outcome = t.outcomes[0]?.outcome;
    expect(outcome?.result).toBe('error');
    expect(outcome?.result === 'error' && outcome.error).toBeInstanceOf(ReconcileTimeoutError);
    t.scheduler.advance(5);
    await settle();
    expect(t.calls).toHaveLength(2);
  });

  it('keeps a key processing until a reconcile that ignores its signal settles', async () => {
    const t = setup(2, { reconcileTimeoutMs: 10 });
    t.controller.enqueue('stuck');
    await settle();
    t.scheduler.advance(100);
    t.controller.enqueue('stuck');
    await settle();
    expect(t.calls).toHaveLength(1);
    expect(t.controller.queue.isProcessing('stuck')).toBe(true);
  });

  it('honours requeueAfterMs', async () => {
    const t = setup(1);
    t.controller.enqueue('poll');
    await settle();
    t.calls[0]?.resolve({ requeueAfterMs: 30_000 });
    await settle();
    t.scheduler.advance(29_999);
    await settle();
    expect(t.calls).toHaveLength(1);
    t.scheduler.advance(1);
    await settle();
    expect(t.calls).toHaveLength(2);
  });

  it('shutDown drains queued and in-flight keys, then resolves; later keys are ignored', async () => {
    const t = setup(1);
    t.controller.enqueue('a');
    t.controller.enqueue('b');
    await settle();
    let stopped = false;
    const stopping = t.controller.shutDown().then(() => {
      stopped = true;
    });
    t.controller.enqueue('late');
    t.calls[0]?.resolve();
    await settle();
    expect(t.calls.map((c) => c.key)).toEqual(['a', 'b']);
    expect(stopped).toBe(false);
    t.calls[1]?.resolve();
    await stopping;
    expect(stopped).toBe(true);
    expect(t.calls.map((c) => c.key)).toEqual(['a', 'b']);
  });

  it('shutDown with abortInFlight signals running reconciles', async () => {
    const t = setup(1);
    t.controller.enqueue('a');
    await settle();
    const call = t.calls[0] as Call;
    call.signal.addEventListener('abort', () => call.reject(call.signal.reason));
    await t.controller.shutDown({ abortInFlight: true });
    expect(call.signal.aborted).toBe(true);
    expect(t.controller.queue.delayedCount).toBe(0);
  });
});
