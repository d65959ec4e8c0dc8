import { Type, type Static } from '@sinclair/typebox';
import { CommonStatusFields, LabelSelector, RequestMatch } from '../common.js';
import {
  ageColumn,
  podsColumn,
  readyColumn,
  reasonColumn,
  type KindDefinition,
} from '../kind-definition.js';
import { Duration, Name, NamedList, StringEnum, cel } from '../schema-helpers.js';

/** How requests are grouped into buckets. */
export const RateLimitKey = Type.Object(
  {
    type: StringEnum(['remoteAddress', 'header', 'global'], {
      description:
        'remoteAddress: one bucket per client address; header: one per value of header `name`; global: one for all.',
    }),
    name: Type.Optional(
      Type.String({ description: 'Header name (type header).', maxLength: 256, minLength: 1 }),
    ),
  },
  cel(
    {
      rule: "self.type != 'header' || has(self.name)",
      message: 'key.type header needs key.name (the header to key on)',
      fieldPath: '.name',
    },
    {
      rule: "self.type == 'header' || !has(self.name)",
      message: 'key.name is only meaningful with key.type header',
      fieldPath: '.name',
    },
  ),
);

/** Steady rate: `requests` per `period`. */
export const RateLimit = Type.Object({
  requests: Type.Integer({
    minimum: 1,
    maximum: 1_000_000_000,
    description: 'Requests allowed per period.',
  }),
  period: Duration('Length of the period, e.g. 1s, 1m.'),
});

/** Failure mode when Redis cannot answer in time. */
export const FailureMode = StringEnum(['open', 'closed'], {
  description: 'open: let requests through; closed: refuse them (429).',
});

/** One rate-limit rule. */
export const RateLimitRule = Type.Object({
  name: Name('Rule name, unique within the policy; used in headers and metrics.'),
  match: Type.Optional(RequestMatch),
  limit: RateLimit,
  burst: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 1_000_000_000,
      description: 'Extra tokens above the steady rate.',
    }),
  ),
  key: RateLimitKey,
  scope: Type.Optional(
    StringEnum(['local', 'global'], {
      description: 'local: per sidecar, in memory; global: shared by all sidecars through Redis.',
      default: 'local',
    }),
  ),
});
/** One rate-limit rule. */
export type RateLimitRule = Static<typeof RateLimitRule>;

/** spec of a RateLimitPolicy. */
export const RateLimitPolicySpec = Type.Object({
  selector: LabelSelector,
  rules: NamedList(RateLimitRule, {
    description: 'Rules, each counted separately; a request must pass every rule it matches.',
    what: 'rule',
    maxItems: 32,
  }),
  failureMode: Type.Optional(FailureMode),
  redis: Type.Optional(
    Type.Object(
      {
        url: Type.String({
          pattern: '^rediss?://',
          maxLength: 1024,
          description: 'redis:// or rediss:// URL.',
        }),
        timeout: Type.Optional(Duration('Bound on one Redis decision before failureMode applies.')),
      },
      { description: "Overrides the installation's Redis for this policy's global rules." },
    ),
  ),
});
/** spec of a RateLimitPolicy. */
export type RateLimitPolicySpec = Static<typeof RateLimitPolicySpec>;

/** status of a RateLimitPolicy. */
export const RateLimitPolicyStatus = Type.Object({ ...CommonStatusFields });

/** RateLimitPolicy (short name `rlp`). */
export const rateLimitPolicyKind: KindDefinition = {
  kind: 'RateLimitPolicy',
  plural: 'ratelimitpolicies',
  singular: 'ratelimitpolicy',
  shortNames: ['rlp'],
  description: 'Limits the request rate of the selected pods, per sidecar or shared through Redis.',
  spec: RateLimitPolicySpec,
  status: RateLimitPolicyStatus,
  printerColumns: [
    readyColumn,
    podsColumn,
    { name: 'Failure-Mode', type: 'string', jsonPath: '.spec.failureMode' },
    reasonColumn,
    ageColumn,
  ],
};
