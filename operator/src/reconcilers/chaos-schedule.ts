/**
 * The 5-field cron schedule of a ChaosExperiment (`spec.schedule`), evaluated in UTC: minute
 * (0–59), hour (0–23), day of month (1–31), month (1–12), day of week (0–6, 0 = Sunday; 7 is
 * also Sunday). Each field is `*`, a number, a range `a-b`, any of those with a step `/n`, or a
 * comma-separated list of them. As in Vixie cron, when both day fields are restricted a day
 * matches if either does.
 */

/** A parsed schedule: the allowed values of each field. */
export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly daysOfWeek: ReadonlySet<number>;
  /** Whether the day-of-month / day-of-week field was `*` (for the either-day rule). */
  readonly anyDayOfMonth: boolean;
  readonly anyDayOfWeek: boolean;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

/** Parses `text`, or says which field is wrong. */
export function parseCron(
  text: string,
): { ok: true; schedule: CronSchedule } | { ok: false; message: string } {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5) {
    return { ok: false, message: `expected 5 fields, got ${parts.length}` };
  }
  const sets: Set<number>[] = [];
  for (const [i, field] of FIELDS.entries()) {
    const parsed = parseField(parts[i] as string, field.min, field.max);
    if (typeof parsed === 'string') {
      return { ok: false, message: `${field.name} ${JSON.stringify(parts[i])}: ${parsed}` };
    }
    sets.push(parsed);
  }
  const daysOfWeek = sets[4] as Set<number>;
  if (daysOfWeek.delete(7)) daysOfWeek.add(0);
  return {
    ok: true,
    schedule: {
      minutes: sets[0] as Set<number>,
      hours: sets[1] as Set<number>,
      daysOfMonth: sets[2] as Set<number>,
      months: sets[3] as Set<number>,
      daysOfWeek,
      anyDayOfMonth: parts[2] === '*',
      anyDayOfWeek: parts[4] === '*',
    },
  };
}

function parseField(text: string, min: number, max: number): Set<number> | string {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (match === null) return `cannot parse ${JSON.stringify(item)}`;
    const from = match[1] === '*' ? min : Number(match[2]);
    const to = match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : from;
    const step = match[4] === undefined ? 1 : Number(match[4]);
    // `5/10` means 5, 15, 25, … (a start with a step runs to the end of the range).
    const end = match[3] === undefined && match[4] !== undefined && match[1] !== '*' ? max : to;
    if (from < min || end > max || from > end) return `out of range ${min}-${max}`;
    if (step < 1) return 'step must be at least 1';
    for (let v = from; v <= end; v += step) values.add(v);
  }
  return values;
}

/** How far `nextRun` looks before giving up (a schedule like `0 0 30 2 *` never fires). */
const HORIZON_DAYS = 366 * 5;

/**
 * The first minute strictly after `afterMs` (epoch ms) that `schedule` fires at, in epoch ms;
 * undefined when it never fires within five years.
 */
export function nextRun(schedule: CronSchedule, afterMs: number): number | undefined {
  const t = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
  const limit = afterMs + HORIZON_DAYS * 86_400_000;
  while (t.getTime() <= limit) {
    if (!schedule.months.has(t.getUTCMonth() + 1) || !dayMatches(schedule, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!schedule.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!schedule.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t.getTime();
  }
  return undefined;
}

function dayMatches(schedule: CronSchedule, t: Date): boolean {
  const dom = schedule.daysOfMonth.has(t.getUTCDate());
  const dow = schedule.daysOfWeek.has(t.getUTCDay());
  if (schedule.anyDayOfMonth) return dow;
  if (schedule.anyDayOfWeek) return dom;
  return dom || dow;
}
