import type { Condition } from '@palisade/crds';
import { setConditions, type DesiredCondition } from '../conditions.js';
import type { InstallationSettings, PolicyDiagnostics } from '../compiler/types.js';
import { redisAddress } from '../adapters/redis-ping.js';
import type { CommonStatus, PalisadeResource } from './kube-api.js';
import type { RedisState } from './redis-health.js';

/** Reasons of the `Ready` condition users can act on (printed by `kubectl get`). */
export const Reasons = {
  Enforced: 'Enforced',
  InvalidSelector: 'InvalidSelector',
  InvalidSpec: 'InvalidSpec',
  NoMatchingPods: 'NoMatchingPods',
  ConflictingCircuitBreakers: 'ConflictingCircuitBreakers',
  NoConflict: 'NoConflict',
  RedisNotConfigured: 'RedisNotConfigured',
  RedisUnavailable: 'RedisUnavailable',
  SpansRaftGroups: 'SpansRaftGroups',
  NoRaftGroup: 'NoRaftGroup',
} as const;

/** Condition type set on CircuitBreakers: True while another breaker collides on some pod. */
export const CONFLICTING_CONDITION = 'Conflicting';

/**
 * The conditions a RateLimitPolicy, CircuitBreaker or Saga should carry, from the compiler's
 * diagnostics: the most actionable problem decides `Ready`.
 */
export function desiredConditions(
  resource: PalisadeResource,
  diag: PolicyDiagnostics | undefined,
  installation: InstallationSettings,
  redis?: RedisState,
): DesiredCondition[] {
  const generation = resource.metadata.generation;
  const cond = (
    type: string,
    status: Condition['status'],
    reason: string,
    message: string,
  ): DesiredCondition => ({
    type,
    status,
    reason,
    message,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  });
  const ready = (ok: boolean, reason: string, message: string) =>
    cond('Ready', ok ? 'True' : 'False', reason, message);
  const out: DesiredCondition[] = [];
  const matched = diag?.matchedPods ?? 0;
  const enforced = diag?.enforcedPods ?? 0;

  if (diag?.invalidSpec !== undefined) {
    out.push(ready(false, Reasons.InvalidSpec, diag.invalidSpec));
  } else if (diag?.invalidSelector !== undefined) {
    out.push(ready(false, Reasons.InvalidSelector, `spec.selector: ${diag.invalidSelector}`));
  } else if (matched === 0) {
    out.push(
      ready(
        false,
        Reasons.NoMatchingPods,
        'spec.selector matches no pod with a Palisade sidecar in this namespace',
      ),
    );
  } else if (
    resource.kind === 'RateLimitPolicy' &&
    needsRedis(resource) &&
    installation.redis === undefined &&
    resource.spec.redis === undefined
  ) {
    out.push(
      ready(
        false,
        Reasons.RedisNotConfigured,
        'a rule has scope global but no Redis is configured (installation or spec.redis)',
      ),
    );
  } else if (redis !== undefined && !redis.reachable && resource.kind === 'RateLimitPolicy') {
    const url = redisUrlOf(resource, installation) ?? '';
    out.push(
      ready(
        false,
        Reasons.RedisUnavailable,
        `Redis at ${redisAddress(url)} does not answer (${redis.detail}): global rules fall back to failureMode ${resource.spec.failureMode ?? 'open'}`,
      ),
    );
  } else if (
    resource.kind === 'CircuitBreaker' &&
    enforced === 0 &&
    (diag?.conflicts.length ?? 0) > 0
  ) {
    out.push(
      ready(false, Reasons.ConflictingCircuitBreakers, conflictMessage(diag as PolicyDiagnostics)),
    );
  } else if (resource.kind === 'Saga' && (diag?.raftGroups?.length ?? 0) > 1) {
    out.push(
      ready(
        false,
        Reasons.SpansRaftGroups,
        `selected pods belong to several Raft groups (${diag?.raftGroups?.join(', ')}); a saga needs one`,
      ),
    );
  } else if (resource.kind === 'Saga' && (diag?.podsWithoutRaftGroup ?? 0) > 0) {
    out.push(
      ready(
        false,
        Reasons.NoRaftGroup,
        `${diag?.podsWithoutRaftGroup} selected pods have no Raft group: label them palisade.dev/raft-group (or app)`,
      ),
    );
  } else {
    out.push(ready(true, Reasons.Enforced, `enforced on ${enforced} of ${matched} selected pods`));
  }
  if (resource.kind === 'CircuitBreaker') {
    const conflicts = diag?.conflicts ?? [];
    out.push(
      conflicts.length === 0
        ? cond(
            CONFLICTING_CONDITION,
            'False',
            Reasons.NoConflict,
            'no other CircuitBreaker targets the same host on these pods',
          )
        : cond(
            CONFLICTING_CONDITION,
            'True',
            Reasons.ConflictingCircuitBreakers,
            conflictMessage(diag as PolicyDiagnostics),
          ),
    );
  }
  return out;
}

/**
 * The full status the operator owns for a RateLimitPolicy, CircuitBreaker or Saga:
 * observedGeneration, matchedPods and conditions (other condition types present are kept, and
 * `lastTransitionTime` only moves on a flip).
 */
export function desiredPolicyStatus(
  resource: PalisadeResource,
  diag: PolicyDiagnostics | undefined,
  installation: InstallationSettings,
  now: Date,
  redis?: RedisState,
): CommonStatus {
  const { conditions } = setConditions(
    resource.status?.conditions,
    desiredConditions(resource, diag, installation, redis),
    now,
  );
  return {
    ...(resource.metadata.generation === undefined
      ? {}
      : { observedGeneration: resource.metadata.generation }),
    matchedPods: diag?.matchedPods ?? 0,
    conditions,
  };
}

function needsRedis(resource: PalisadeResource & { kind: 'RateLimitPolicy' }): boolean {
  return resource.spec.rules.some((r) => r.scope === 'global');
}

/** The Redis URL a RateLimitPolicy's global rules use, or undefined when none needs one. */
export function redisUrlOf(
  resource: PalisadeResource,
  installation: InstallationSettings,
): string | undefined {
  if (resource.kind !== 'RateLimitPolicy' || !needsRedis(resource)) return undefined;
  return resource.spec.redis?.url ?? installation.redis?.url;
}

function conflictMessage(diag: PolicyDiagnostics): string {
  return diag.conflicts
    .map((c) =>
      c.won
        ? `enforced instead of ${c.other} on ${c.pods} pods (same target; the older breaker wins)`
        : `not enforced on ${c.pods} pods: ${c.other} is older and has the same target`,
    )
    .join('; ');
}
