import { parseDuration, type ChaosExperimentSpec } from '@palisade/crds';
import { toKubeTime, type DesiredCondition } from '../conditions.js';
import type { ChaosObservation } from './chaos-observation.js';
import type { ExpectationStatus } from './kube-api.js';

type Expectation = NonNullable<ChaosExperimentSpec['expect']>[number];

/** One line of `status.expectations`' subject: what the expectation is about. */
function subjectOf(e: Expectation): string | undefined {
  return e.type === 'circuitOpens'
    ? e.circuitBreaker
    : e.type === 'leaseChangesHolder'
      ? e.lease
      : undefined;
}

/**
 * Folds the latest observation into the expectations' status. An expectation, once met,
 * stays met for the run (the status is the memory, so an operator restart keeps it). Checked
 * while running: a breaker opened (first seen open during the run), 429s appeared. Checked
 * at the end (`final`): no saga instance left non-terminal. A lease changed holder: the targets'
 * palisade_lease_holder_changes_total for it rose above the run's first scrape, `within` the
 * run's start (`startedAt`, ms; every fault is in force from then and the first podKill round is
 * due then) — a later change is reported, unmet, with how late it came.
 */
export function evaluateExpectations(
  spec: ChaosExperimentSpec,
  namespace: string,
  previous: readonly ExpectationStatus[] | undefined,
  observation: ChaosObservation,
  now: number,
  final: boolean,
  startedAt: number,
): ExpectationStatus[] {
  return (spec.expect ?? []).map((e, i) => {
    const subject = subjectOf(e);
    const before = previous?.[i];
    const base: ExpectationStatus = { type: e.type, ...(subject === undefined ? {} : { subject }) };
    if (before?.met === true && before.type === e.type && before.subject === subject) return before;
    const met = (at: number, message: string): ExpectationStatus => ({
      ...base,
      met: true,
      observedTime: toKubeTime(at),
      message,
    });
    const notYet = (message: string): ExpectationStatus => ({ ...base, met: false, message });
    switch (e.type) {
      case 'circuitOpens': {
        const at = observation.breakersOpenedAt.get(`${namespace}/${e.circuitBreaker ?? ''}`);
        return at === undefined
          ? notYet(`CircuitBreaker ${e.circuitBreaker ?? ''} not seen open`)
          : met(at, `CircuitBreaker ${e.circuitBreaker ?? ''} opened`);
      }
      case 'rateLimited':
        return observation.rateLimited > 0
          ? met(now, `${observation.rateLimited} requests answered 429`)
          : notYet('no 429 answered yet');
      case 'sagasTerminal':
        if (!final) return notYet('checked when the run ends');
        return observation.sagasNonTerminal === 0
          ? met(now, 'no saga instance left non-terminal')
          : notYet(
              observation.sagasNonTerminal === undefined
                ? 'no sidecar reported saga instances'
                : `${observation.sagasNonTerminal} saga instances left running or compensating`,
            );
      case 'leaseChangesHolder': {
        const lease = e.lease ?? '';
        const within = e.within === undefined ? undefined : parseDuration(e.within);
        const at = observation.leasesChangedAt.get(lease);
        if (at === undefined) {
          return notYet(
            within !== undefined && now - startedAt > within
              ? `lease ${lease} did not change holder within ${e.within ?? ''}`
              : `lease ${lease} has not changed holder on the targets since the run started`,
          );
        }
        const after = `${((at - startedAt) / 1000).toFixed(1)} s after the start`;
        return within === undefined || at - startedAt <= within
          ? met(at, `lease ${lease} changed holder ${after}`)
          : notYet(`lease ${lease} changed holder ${after}, later than within ${e.within ?? ''}`);
      }
    }
  });
}

/**
 * The `Verified` condition for `expectations`, or undefined when the experiment expects
 * nothing: True once all are met; while running, Unknown; at the end, False naming the unmet.
 */
export function verifiedCondition(
  expectations: readonly ExpectationStatus[],
  final: boolean,
): DesiredCondition | undefined {
  if (expectations.length === 0) return undefined;
  const unmet = expectations.filter((e) => e.met !== true);
  if (unmet.length === 0) {
    return {
      type: 'Verified',
      status: 'True',
      reason: 'ExpectationsMet',
      message: `all ${expectations.length} expectations met`,
    };
  }
  const list = unmet
    .map((e) => `${e.type}${e.subject === undefined ? '' : ` ${e.subject}`}: ${e.message ?? ''}`)
    .join('; ');
  return final
    ? { type: 'Verified', status: 'False', reason: 'ExpectationsNotMet', message: list }
    : { type: 'Verified', status: 'Unknown', reason: 'Observing', message: `waiting: ${list}` };
}
