import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from './clock.js';
import { SeededRandom } from './random.js';

describe('ManualScheduler', () => {
  it('fires due timers in (time, creation) order, each at its own time, including ones scheduled meanwhile', () => {
    const s = new ManualScheduler(100);
    const log: string[] = [];
    s.schedule(20, () => log.push(`b@${s.now()}`));
    s.schedule(10, () => {
      log.push(`a@${s.now()}`);
      s.schedule(5, () => log.push(`c@${s.now()}`));
    });
    s.schedule(20, () => log.push(`d@${s.now()}`));
    s.schedule(50, () => log.push('late'));
    s.advance(30);
    expect(log).toEqual(['a@110', 'c@115', 'b@120', 'd@120']);
    expect(s.now()).toBe(130);
    expect(s.pendingTimers()).toBe(1);
    expect(s.nextDue()).toBe(150);
  });

  it('never fires a cancelled timer and refuses to go backwards', () => {
    const s = new ManualScheduler();
    let fired = false;
    const cancel = s.schedule(1, () => {
      fired = true;
    });
    cancel();
    s.advance(10);
    expect(fired).toBe(false);
    expect(() => s.advance(-1)).toThrow(RangeError);
  });
});

describe('SeededRandom', () => {
  it('is reproducible per seed and stays in [0, 1)', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new SeededRandom(43).next()).not.toBe(xs[0]);
  });
});
