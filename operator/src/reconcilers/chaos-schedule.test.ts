import { describe, expect, it } from '@jest/globals';
import { nextRun, parseCron, type CronSchedule } from './chaos-schedule.js';

function schedule(text: string): CronSchedule {
  const parsed = parseCron(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.schedule;
}

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('parseCron', () => {
  it.each([
    ['* * * *', 'expected 5 fields, got 4'],
    ['61 * * * *', 'minute "61": out of range 0-59'],
    ['*/0 * * * *', 'minute "*/0": step must be at least 1'],
    ['* * * 13 *', 'month "13": out of range 1-12'],
    ['* * * * mon', 'day of week "mon": cannot parse "mon"'],
    ['5-1 * * * *', 'minute "5-1": out of range 0-59'],
  ])('rejects %j: %s', (text, message) => {
    expect(parseCron(text)).toEqual({ ok: false, message });
  });

  it('expands steps, ranges and lists; 7 is Sunday', () => {
    const s = schedule('*/15 8-10/2 1,15 * 7');
    expect([...s.minutes]).toEqual([0, 15, 30, 45]);
    expect([...s.hours]).toEqual([8, 10]);
    expect([...s.daysOfMonth]).toEqual([1, 15]);
    expect([...s.daysOfWeek]).toEqual([0]);
    expect([...schedule('5/20 * * * *').minutes]).toEqual([5, 25, 45]);
  });
});

describe('nextRun', () => {
  it.each([
    ['*/15 * * * *', '2026-01-01T12:00:00Z', '2026-01-01T12:15:00.000Z'],
    ['*/15 * * * *', '2026-01-01T12:14:59Z', '2026-01-01T12:15:00.000Z'],
    ['0 3 * * *', '2026-01-01T12:00:00Z', '2026-01-02T03:00:00.000Z'],
    ['30 2 29 2 *', '2026-01-01T00:00:00Z', '2028-02-29T02:30:00.000Z'],
    // Both day fields restricted: either matches (the 13th, or any Friday).
    ['0 0 13 * 5', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00.000Z'],
    ['0 0 * * 1', '2026-01-01T00:00:00Z', '2026-01-05T00:00:00.000Z'],
  ])('%s after %s is %s', (text, after, expected) => {
    expect(iso(nextRun(schedule(text), at(after)))).toBe(expected);
  });

  it('is strictly after the given time and undefined for a day that never comes', () => {
    expect(iso(nextRun(schedule('* * * * *'), at('2026-01-01T12:00:00Z')))).toBe(
      '2026-01-01T12:01:00.000Z',
    );
    expect(nextRun(schedule('0 0 31 2 *'), at('2026-01-01T00:00:00Z'))).toBeUndefined();
  });
});
