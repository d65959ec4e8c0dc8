import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ManualClock } from '../core/clock.js';
import {
  CIRCUIT_STATE_METRIC_VALUE,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitPermit,
  type CircuitRejection,
  type CircuitStateChange,
} from './circuit-breaker.js';
import { InvalidFilterConfigError } from './errors.js';

function setup(options: Partial<CircuitBreakerOptions>) {
  const clock = new ManualClock(10_000);
  const changes: CircuitStateChange[] = [];
  const breaker = new CircuitBreaker({
    openDurationMs: 30_000,
    halfOpen: { maxRequests: 3, successesToClose: 3 },
    onStateChange: (change) => changes.push(change),
    ...options,
  });
  const acquire = (): CircuitPermit => {
    const result = breaker.tryAcquire(clock.now());
    if (result.open) throw new Error(`expected a permit, got ${JSON.stringify(result)}`);
    return result;
  };
  const call = (outcome: 'success' | 'failure'): void =>
    breaker.onResult(acquire(), outcome, clock.now());
  const reject = (): CircuitRejection => {
    const result = breaker.tryAcquire(clock.now());
    if (!result.open) throw new Error('expected a fast failure, got a permit');
    return result;
  };
  const states = () => changes.map((change) => `${change.from}>${change.to}:${change.reason}`);
  return { clock, breaker, acquire, call, reject, states };
}

describe('CircuitBreaker', () => {
  it('trips after consecutiveFailures failures in a row, and a success resets the run', () => {
    const { call, reject, states, breaker, clock } = setup({ consecutiveFailures: 3 });
    call('failure');
    call('failure');
    call('success');
    call('failure');
    call('failure');
    expect(breaker.currentState(clock.now())).toBe('closed');
    call('failure');
    expect(states()).toEqual(['closed>open:consecutive-failures']);
    expect(reject()).toEqual({ open: true, state: 'open', retryAfterMs: 30_000 });
  });

  it('trips on the failure ratio only once minimumRequests results are in the window', () => {
    const { call, states, clock } = setup({
      failureRatio: 0.5,
      minimumRequests: 10,
      windowMs: 10_000,
    });
    for (let i = 0; i < 4; i++) {
      call('failure');
      call('success');
    }
    call('failure'); // 5/9: ratio met, not enough requests
    expect(states()).toEqual([]);
    call('success'); // 5/10 but the last result is a success: trips are judged on failures
    expect(states()).toEqual([]);
    clock.advance(1);
    call('failure'); // 6/11
    expect(states()).toEqual(['closed>open:failure-ratio']);
  });

  it('forgets results older than the rolling window', () => {
    const { call, states, clock } = setup({
      failureRatio: 0.5,
      minimumRequests: 4,
      windowMs: 1000,
    });
    call('failure');
    call('failure');
    call('failure');
    clock.advance(1000); // those three rolled out
    call('success');
    call('success');
    call('success');
    call('failure'); // 1/4 in the window
    expect(states()).toEqual([]);
  });

  it('goes half-open after openDuration, admits at most maxRequests probes, closes after successesToClose', () => {
    const { clock, breaker, call, acquire, reject, states } = setup({ consecutiveFailures: 1 });
    call('failure');
    clock.advance(29_999);
    expect(reject().retryAfterMs).toBe(1);
    clock.advance(1);
    const probes = [acquire(), acquire(), acquire()];
    expect(probes.every((permit) => permit.probe)).toBe(true);
    expect(reject()).toEqual({ open: true, state: 'half-open', retryAfterMs: 1000 });
    breaker.onResult(probes[0]!, 'success', clock.now());
    breaker.onResult(probes[1]!, 'success', clock.now());
    const fourth = acquire(); // a slot came free
    breaker.onResult(probes[2]!, 'success', clock.now());
    expect(breaker.currentState(clock.now())).toBe('closed');
    breaker.onResult(fourth, 'failure', clock.now()); // a stale probe result changes nothing
    expect(breaker.currentState(clock.now())).toBe('closed');
    expect(acquire().probe).toBe(false);
    expect(states()).toEqual([
      'closed>open:consecutive-failures',
      'open>half-open:open-duration-elapsed',
      'half-open>closed:probes-succeeded',
    ]);
  });

  it('reopens on any probe failure, for a full openDuration', () => {
    const { clock, breaker, call, acquire, reject, states } = setup({ consecutiveFailures: 1 });
    call('failure');
    clock.advance(30_000);
    const first = acquire();
    const second = acquire();
    breaker.onResult(first, 'success', clock.now());
    clock.advance(5);
    breaker.onResult(second, 'failure', clock.now());
    expect(reject()).toEqual({ open: true, state: 'open', retryAfterMs: 30_000 });
    expect(states().at(-1)).toBe('half-open>open:probe-failed');
  });

  it('releases a probe slot on an ignored outcome without counting it', () => {
    const { clock, breaker, call, acquire, states } = setup({
      consecutiveFailures: 1,
      halfOpen: { maxRequests: 1, successesToClose: 1 },
    });
    call('failure');
    clock.advance(30_000);
    breaker.onResult(acquire(), 'ignored', clock.now());
    expect(breaker.currentState(clock.now())).toBe('half-open');
    breaker.onResult(acquire(), 'success', clock.now());
    expect(states().at(-1)).toBe('half-open>closed:probes-succeeded');
  });

  it('ignores results of calls admitted before the state changed', () => {
    const { clock, breaker, acquire, call, states } = setup({ consecutiveFailures: 2 });
    const slow = acquire();
    call('failure');
    call('failure'); // open
    clock.advance(30_000);
    call('success');
    call('success');
    call('success'); // closed again
    breaker.onResult(slow, 'failure', clock.now());
    call('failure'); // only one failure counts in this generation
    expect(breaker.currentState(clock.now())).toBe('closed');
    expect(states()).toHaveLength(3);
  });

  it('moves to half-open when read after openDuration, for the state gauge', () => {
    const { clock, breaker, call } = setup({ consecutiveFailures: 1 });
    call('failure');
    expect(CIRCUIT_STATE_METRIC_VALUE[breaker.currentState(clock.now())]).toBe(1);
    clock.advance(30_000);
    expect(CIRCUIT_STATE_METRIC_VALUE[breaker.currentState(clock.now())]).toBe(2);
  });

  it('hands out the same permit object while closed (no allocation per request)', () => {
    const { acquire } = setup({ consecutiveFailures: 5 });
    expect(acquire()).toBe(acquire());
  });

  it('requires a trip condition and valid numbers', () => {
    expect(() => new CircuitBreaker({ openDurationMs: 1000 })).toThrow(InvalidFilterConfigError);
    expect(() => new CircuitBreaker({ openDurationMs: 1000, failureRatio: 1.5 })).toThrow(
      /failureRatio/,
    );
    expect(
      () =>
        new CircuitBreaker({
          openDurationMs: 1000,
          consecutiveFailures: 1,
          halfOpen: { maxRequests: 0, successesToClose: 1 },
        }),
    ).toThrow(/halfOpen\.maxRequests/);
  });

  it('keeps its invariants under any interleaving of calls, results and time (property)', () => {
    const allowed = new Set([
      'closed>open',
      'open>half-open',
      'half-open>closed',
      'half-open>open',
    ]);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }),
      fc.record({ kind: fc.constant('acquire' as const) }),
      fc.record({
        kind: fc.constant('finish' as const),
        pick: fc.nat(),
        roll: fc.nat(99),
      }),
    );
    const visited = new Set<string>();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(op, { minLength: 100, maxLength: 300 }),
        // Failure rate (%) in the first and the second half of the run: an outage, then recovery.
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 30 }),
        (consecutiveFailures, maxRequests, successesToClose, ops, failingBefore, failingAfter) => {
          const changes: CircuitStateChange[] = [];
          const breaker = new CircuitBreaker({
            consecutiveFailures,
            failureRatio: 0.5,
            minimumRequests: 4,
            windowMs: 1000,
            openDurationMs: 1000,
            halfOpen: { maxRequests, successesToClose },
            onStateChange: (change) => changes.push(change),
          });
          let now = 0;
          let openedAt = -Infinity;
          const outstanding: CircuitPermit[] = [];
          const check = (holds: boolean, what: string) => {
            if (!holds) throw new Error(`${what} (at ${now} ms)`);
          };
          for (const [index, step] of ops.entries()) {
            if (step.kind === 'advance') now += step.ms;
            else if (step.kind === 'acquire') {
              const before = breaker.currentState(now);
              const result = breaker.tryAcquire(now);
              check(before !== 'open' || result.open, 'admitted a call while open');
              if (result.open)
                check(result.retryAfterMs > 0, 'rejection without a positive retryAfterMs');
              else outstanding.push(result);
              if (!result.open && result.probe) {
                const sameWave = outstanding.filter(
                  (p) => p.probe && p.generation === result.generation,
                );
                check(sameWave.length <= maxRequests, `more than ${maxRequests} probes in flight`);
              }
            } else if (outstanding.length > 0) {
              const [permit] = outstanding.splice(step.pick % outstanding.length, 1);
              const failing = index < ops.length / 2 ? failingBefore : failingAfter;
              const outcome =
                step.roll < failing ? 'failure' : step.roll < failing + 5 ? 'ignored' : 'success';
              breaker.onResult(permit!, outcome, now);
            }
            const state = breaker.currentState(now);
            const last = changes.at(-1);
            if (last?.to === 'open') openedAt = last.at;
            if (state === 'open') check(now - openedAt < 1000, 'open for longer than openDuration');
          }
          visited.add(changes.map((change) => change.to).join(','));
          for (const change of changes)
            expect(allowed.has(`${change.from}>${change.to}`)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
    // The generator does reach every state (otherwise the property would prove little).
    expect([...visited].some((path) => path.includes('half-open,closed'))).toBe(true);
    expect([...visited].some((path) => path.includes('half-open,open'))).toBe(true);
  });
});
