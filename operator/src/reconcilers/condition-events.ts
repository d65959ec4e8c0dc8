import type { Condition } from '@palisade/crds';
import type { PolicyKind } from '../compiler/types.js';

/** The object an event is about. */
export interface EventSubject {
  kind: PolicyKind;
  namespace: string;
  name: string;
  uid?: string;
}

/** One Kubernetes Event to record (events.k8s.io/v1 fields). */
export interface OperatorEvent {
  regarding: EventSubject;
  type: 'Normal' | 'Warning';
  /** CamelCase, the condition's new reason (e.g. `NoMatchingPods`). */
  reason: string;
  /** Human text, at most 1 kB. */
  note: string;
  /** What the operator did: always `StatusChange` here. */
  action: string;
}

/** Where events go (the real one writes events.k8s.io/v1 Events; best effort). */
export interface EventRecorder {
  record(event: OperatorEvent): void;
}

/**
 * Pure: the events for the conditions that changed between `before` and `after` — a new
 * condition, or a change of status or reason. Message-only changes are not transitions.
 * Ready turning anything but True is a Warning; everything else is Normal.
 */
export function conditionTransitionEvents(
  regarding: EventSubject,
  before: readonly Condition[] | undefined,
  after: readonly Condition[] | undefined,
): OperatorEvent[] {
  const events: OperatorEvent[] = [];
  for (const next of after ?? []) {
    const previous = (before ?? []).find((c) => c.type === next.type);
    if (
      previous !== undefined &&
      previous.status === next.status &&
      previous.reason === next.reason
    )
      continue;
    const from = previous === undefined ? '' : `${previous.status}/${previous.reason} → `;
    events.push({
      regarding,
      type: next.type === 'Ready' && next.status !== 'True' ? 'Warning' : 'Normal',
      reason: next.reason,
      note: `${next.type} ${from}${next.status}/${next.reason}: ${next.message}`.slice(0, 1000),
      action: 'StatusChange',
    });
  }
  return events;
}
