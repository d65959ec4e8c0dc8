import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { gcraParams, gcraStep } from './gcra.js';
import { worstIntervalExcess } from './testing.js';
import { leaseSizeFor, TokenLeases } from './token-lease.js';

const HOLD_MS = 10;

function leases(maxTokens: number, maxKeys = 100, holdMs = HOLD_MS): TokenLeases<string> {
  return new TokenLeases<string>({ maxTokens, holdMs, maxKeys });
}

describe('leaseSizeFor', () => {
  it('leases 0.1% of the capacity, nothing under 1,000', () => {
    expect([1, 20, 999, 1000, 1999, 2000, 1_000_000].map(leaseSizeFor)).toEqual([
      0, 0, 0, 1, 1, 2, 1000,
    ]);
  });
});

describe('TokenLeases', () => {
  it('asks for twice what the key was asked for lately, then admits from the grant in rank order', () => {
    const book = leases(50);
    for (let i = 0; i < 4; i++) expect(book.take('k', i)).toBeUndefined();
    const asked = book.ask('k');
    expect(asked).toBe(8); // four requests in this window
    // The call carried 1 waiting request and the ask: Redis admitted five (the bucket ran dry).
    book.settle('k', asked, 4, 5, 'reply-1', 2, 1);
    const ranks = [0, 1, 2, 3].map(() => book.take('k', 6));
    expect(ranks).toEqual([1, 2, 3, 4].map((rank) => ({ grant: 'reply-1', keyIndex: 2, rank })));
    expect(book.take('k', 6)).toBeUndefined();
  });

  it('drops unused tokens once the hold has passed', () => {
    const book = leases(50);
    book.take('k', 0);
    book.settle('k', book.ask('k'), 1, 0, 'r', 0, 1);
    expect(book.take('k', HOLD_MS - 0.001)).toMatchObject({ rank: 1 });
    book.settle('k', book.ask('k'), 2, 1, 'r2', 0, 0);
    expect(book.take('k', 1 + HOLD_MS)).toBeUndefined();
  });

  it('never holds plus asks for more than maxTokens', () => {
    const book = leases(3);
    for (let i = 0; i < 10; i++) book.take('k', 0);
    expect(book.ask('k')).toBe(3);
    expect(book.ask('k')).toBe(0); // all of the room is asked for
    book.cancel('k', 3);
    expect(book.ask('k')).toBe(3);
  });

  it('wants a refill when the lease runs low with no ask in flight', () => {
    const book = leases(50);
    for (let i = 0; i < 8; i++) book.take('k', 0);
    const asked = book.ask('k');
    expect(asked).toBe(16);
    expect(book.wantsRefill('k', 0)).toBe(false); // an ask is in flight
    book.settle('k', asked, 8, 1, 'r', 0, 1);
    for (let i = 0; i < 2; i++) book.take('k', 2);
    expect(book.wantsRefill('k', 2)).toBe(false); // 6 left for a demand of 10
    for (let i = 0; i < 2; i++) book.take('k', 2);
    expect(book.wantsRefill('k', 2)).toBe(true); // 4 left for a demand of 12
    const refill = book.ask('k');
    expect(refill).toBe(20); // up to twice the demand
    // The refill's tokens add to those held, which take the new grant's first rank.
    book.settle('k', refill, 3, 3, 'r2', 1, 0);
    const ranks = Array.from({ length: 8 }, () => book.take('k', 4)?.rank);
    expect(ranks).toEqual([0, 0, 0, 0, 0, 1, 2, undefined]);
  });

  it('a key busier than maxTokens per window waits until half of maxTokens is left', () => {
    const book = leases(10);
    for (let i = 0; i < 40; i++) book.take('k', 0); // a demand of 40, four times the lease size
    const asked = book.ask('k');
    expect(asked).toBe(10);
    book.settle('k', asked, 40, 0, 'r', 0, 1); // 10 tokens held
    for (let i = 0; i < 4; i++) book.take('k', 1);
    expect(book.wantsRefill('k', 1)).toBe(false); // 6 left: not after every grant
    book.take('k', 1);
    expect(book.wantsRefill('k', 1)).toBe(true); // 5 left, half of maxTokens
  });

  it('wants a renewal from half the hold on, before the lease expires', () => {
    const book = leases(50);
    for (let i = 0; i < 4; i++) book.take('k', 0);
    book.settle('k', book.ask('k'), 8, 0, 'r', 0, 1); // 8 tokens until HOLD_MS
    book.take('k', HOLD_MS / 2 - 1);
    expect(book.wantsRefill('k', HOLD_MS / 2 - 1)).toBe(false); // 7 left for a demand of 5
    book.take('k', HOLD_MS / 2);
    expect(book.wantsRefill('k', HOLD_MS / 2)).toBe(true);
  });

  it('forgets demand after two quiet windows', () => {
    const book = leases(50);
    for (let i = 0; i < 5; i++) book.take('k', 0);
    book.take('k', HOLD_MS); // a new window: the last one had 5
    expect(book.ask('k')).toBe(10);
    book.cancel('k', 10);
    book.take('k', 3 * HOLD_MS); // two windows later: only this request counts
    expect(book.ask('k')).toBe(2);
  });

  it('tracks at most maxKeys keys and sweeps idle ones at most once per hold', () => {
    const book = leases(5, 2);
    book.take('a', 0);
    book.take('b', 0);
    book.take('c', 0);
    expect(book.size).toBe(2);
    expect(book.ask('c')).toBe(0); // untracked: decided one by one
    book.take('c', 2 * HOLD_MS); // a and b are idle now
    expect(book.size).toBe(1);
    expect(book.ask('c')).toBe(2);
  });

  it('rejects options that would lease nothing or forever', () => {
    expect(() => new TokenLeases({ maxTokens: 0, holdMs: 10, maxKeys: 1 })).toThrow(/maxTokens/);
    expect(() => new TokenLeases({ maxTokens: 1, holdMs: 0, maxKeys: 1 })).toThrow(/holdMs/);
    expect(() => new TokenLeases({ maxTokens: 1, holdMs: 10, maxKeys: 0 })).toThrow(/maxKeys/);
  });

  /**
   * Sidecars with leases sharing one GCRA key in a simulated Redis: requests arrive at random
   * sidecars and times; a miss (or a refill) is a call that Redis runs after a random delay,
   * whose reply comes back after another, or is lost (timed out). A request decided by Redis is
   * admitted at Redis' time; one served from a lease when it is served.
   */
  it('sidecars with leases admit at most the GCRA bound plus sidecars × lease size in any interval (property)', () => {
    fc.assert(
      fc.property(
        // Small limits under heavy overload, so that the bound binds; the lease size is any.
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        // Holds up to 5 periods: the bound must come from the lease size, not from expiry.
        fc.integer({ min: 1, max: 50 }),
        fc.array(
          fc.record({
            // Mostly overload, with pauses in which the bucket refills.
            gapUs: fc.oneof(
              { weight: 19, arbitrary: fc.integer({ min: 0, max: 400 }) },
              { weight: 1, arbitrary: fc.integer({ min: 5000, max: 40_000 }) },
            ),
            sidecar: fc.nat(),
            sendUs: fc.integer({ min: 0, max: 3000 }),
            replyUs: fc.integer({ min: 0, max: 3000 }),
            lost: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
          }),
          { minLength: 50, maxLength: 300 },
        ),
        (requests, burst, maxTokens, sidecars, holdMs, arrivals) => {
          const spec = { requests, periodMs: 10, burst };
          const params = gcraParams(spec);
          const books = Array.from({ length: sidecars }, () => leases(maxTokens, 1, holdMs));
          type Call = { sidecar: number; waiting: number; asked: number; lost: boolean };
          const events: { atUs: number; run: () => void }[] = [];
          const schedule = (atUs: number, run: () => void) => {
            events.push({ atUs, run });
            events.sort((x, y) => x.atUs - y.atUs);
          };
          let tat: number | undefined;
          const admittedAtUs: number[] = [];
          let served = 0;
          let granted = 0;
          const call = (atUs: number, c: Call, sendUs: number, replyUs: number) =>
            schedule(atUs + sendUs, () => {
              const redisUs = atUs + sendUs;
              let admitted = 0;
              for (let i = 0; i < c.waiting + c.asked; i++) {
                const step = gcraStep(tat, redisUs, params);
                if (!step.allowed) break;
                tat = step.tatUs;
                admitted++;
              }
              if (admitted > 0 && c.waiting > 0) admittedAtUs.push(redisUs);
              const extra = Math.max(0, admitted - c.waiting);
              schedule(redisUs + replyUs, () => {
                const book = books[c.sidecar]!;
                if (c.lost) {
                  book.cancel('k', c.asked);
                  return;
                }
                granted += extra;
                book.settle('k', c.asked, extra, (redisUs + replyUs) / 1000, 'g', 0, c.waiting);
              });
            });
          let nowUs = 0;
          for (const a of arrivals) {
            nowUs += a.gapUs;
            const atUs = nowUs;
            const sidecar = a.sidecar % sidecars;
            schedule(atUs, () => {
              const book = books[sidecar]!;
              const token = book.take('k', atUs / 1000);
              if (token !== undefined) {
                served++;
                admittedAtUs.push(atUs);
                if (book.wantsRefill('k', atUs / 1000)) {
                  const asked = book.ask('k');
                  call(atUs, { sidecar, waiting: 0, asked, lost: a.lost }, a.sendUs, a.replyUs);
                }
                return;
              }
              const asked = book.ask('k');
              call(atUs, { sidecar, waiting: 1, asked, lost: a.lost }, a.sendUs, a.replyUs);
            });
          }
          while (events.length > 0) events.shift()!.run();
          expect(served).toBeLessThanOrEqual(granted);
          admittedAtUs.sort((x, y) => x - y);
          const ratePerUs = requests / (spec.periodMs * 1000);
          expect(
            worstIntervalExcess(admittedAtUs, requests + burst, ratePerUs),
          ).toBeLessThanOrEqual(sidecars * maxTokens + 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });
});
