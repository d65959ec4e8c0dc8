import type { Condition } from '@palisade/crds';

/** What a reconciler wants a condition to say; the helper owns `lastTransitionTime`. */
export interface DesiredCondition {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
  observedGeneration?: number;
}

/** Result of `setCondition`: the new list (never the input array) and whether it differs. */
export interface SetConditionResult {
  conditions: Condition[];
  changed: boolean;
}

/**
 * Sets condition `next.type` in `conditions` (not mutated). `lastTransitionTime` becomes
 * `now` only when the condition is new or its status flips; a change of reason, message or
 * observedGeneration alone keeps the previous transition time, as metav1 conditions require.
 * Order is preserved; a new condition is appended.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: DesiredCondition,
  now: Date | string,
): SetConditionResult {
  const nowText = typeof now === 'string' ? now : toKubeTime(now);
  const list = conditions ?? [];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index === -1 ? undefined : list[index];
  const lastTransitionTime =
    previous !== undefined && previous.status === next.status
      ? previous.lastTransitionTime
      : nowText;
  const condition: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime,
    ...(next.observedGeneration === undefined
      ? {}
      : { observedGeneration: next.observedGeneration }),
  };
  if (previous === undefined) return { conditions: [...list, condition], changed: true };
  const changed = !deepEqual(previous, condition);
  const out = [...list];
  out[index] = changed ? condition : previous;
  return { conditions: out, changed };
}

/** Sets several conditions in turn; `changed` when any of them changed. */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  next: readonly DesiredCondition[],
  now: Date | string,
): SetConditionResult {
  let current: Condition[] = [...(conditions ?? [])];
  let changed = false;
  for (const c of next) {
    const r = setCondition(current, c, now);
    current = r.conditions;
    changed ||= r.changed;
  }
  return { conditions: current, changed };
}

/** The condition of `type`, if present. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Whether two status objects say the same thing: deep equality where key order does not
 * matter and a property set to `undefined` equals an absent one. Used to write status only
 * when something changed.
 */
export function statusEqual(a: unknown, b: unknown): boolean {
  return deepEqual(a, b);
}

/** RFC 3339 with second precision, as the API server stores metav1.Time. */
export function toKubeTime(date: Date | number): string {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!deepEqual(ra[k], rb[k])) return false;
  return true;
}
