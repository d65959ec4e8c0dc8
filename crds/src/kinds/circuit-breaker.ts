import { Type, type Static } from '@sinclair/typebox';
import { CommonStatusFields, Direction, LabelSelector } from '../common.js';
import {
  ageColumn,
  podsColumn,
  readyColumn,
  reasonColumn,
  type KindDefinition,
} from '../kind-definition.js';
import { Duration, cel } from '../schema-helpers.js';

/** What the breaker protects. */
export const BreakerTarget = Type.Object(
  {
    direction: Direction,
    host: Type.Optional(
      Type.String({
        description: 'Destination host (outbound) — e.g. payments.shop.svc.cluster.local.',
        maxLength: 253,
        minLength: 1,
      }),
    ),
  },
  cel({
    rule: "self.direction != 'outbound' || has(self.host)",
    message: 'an outbound breaker needs target.host',
    fieldPath: '.host',
  }),
);

/** When the breaker opens. */
export const BreakerTrip = Type.Object(
  {
    consecutiveFailures: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10000,
        description: 'Open after this many failures in a row.',
      }),
    ),
    failureRatio: Type.Optional(
      Type.Number({
        minimum: 0.01,
        maximum: 1,
        description: 'Open when failures/requests in `window` reach this.',
      }),
    ),
    minimumRequests: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description: 'Requests needed in `window` before failureRatio counts.',
      }),
    ),
    window: Type.Optional(Duration('Rolling window for failureRatio.')),
  },
  cel(
    {
      rule: 'has(self.consecutiveFailures) != has(self.failureRatio)',
      message:
        'trip on consecutiveFailures or on failureRatio (with minimumRequests and window), not both and not neither',
    },
    {
      rule: '!has(self.failureRatio) || (has(self.minimumRequests) && has(self.window))',
      message: 'failureRatio needs minimumRequests and window',
      fieldPath: '.failureRatio',
    },
    {
      rule: 'has(self.failureRatio) || (!has(self.minimumRequests) && !has(self.window))',
      message: 'minimumRequests and window only apply with failureRatio',
    },
  ),
);

/** Which outcomes count as failures. */
export const FailureOn = Type.Object({
  statuses: Type.Optional(
    Type.Array(Type.String({ pattern: '^([1-5]xx|[1-5][0-9][0-9])$', maxLength: 3 }), {
      maxItems: 32,
      description: 'Status codes or classes ("5xx", "429") counted as failures. Default ["5xx"].',
    }),
  ),
  timeouts: Type.Optional(
    Type.Boolean({ description: 'Count requestTimeout expiries. Default true.' }),
  ),
  connectionErrors: Type.Optional(
    Type.Boolean({ description: 'Count refused/reset connections. Default true.' }),
  ),
});

/** spec of a CircuitBreaker. */
export const CircuitBreakerSpec = Type.Object({
  selector: LabelSelector,
  target: BreakerTarget,
  trip: BreakerTrip,
  failureOn: Type.Optional(FailureOn),
  requestTimeout: Type.Optional(Duration('Calls taking longer fail (and count as timeouts).')),
  openDuration: Duration('How long the breaker stays open before probing (half-open).'),
  halfOpen: Type.Optional(
    Type.Object(
      {
        maxRequests: Type.Integer({
          minimum: 1,
          maximum: 1000,
          description: 'Concurrent probes while half-open.',
        }),
        successesToClose: Type.Integer({
          minimum: 1,
          maximum: 1000,
          description: 'Successful probes that close it.',
        }),
      },
      { description: 'Probing after openDuration.' },
    ),
  ),
});
/** spec of a CircuitBreaker. */
export type CircuitBreakerSpec = Static<typeof CircuitBreakerSpec>;

/** status of a CircuitBreaker. */
export const CircuitBreakerStatus = Type.Object({
  ...CommonStatusFields,
  openPods: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'Sidecars where this breaker is open or half-open now.',
    }),
  ),
});

/** CircuitBreaker (short name `cb`). */
export const circuitBreakerKind: KindDefinition = {
  kind: 'CircuitBreaker',
  plural: 'circuitbreakers',
  singular: 'circuitbreaker',
  shortNames: ['cb'],
  description: 'Fails fast on calls to an unhealthy target and probes it back to health.',
  spec: CircuitBreakerSpec,
  status: CircuitBreakerStatus,
  printerColumns: [
    readyColumn,
    { name: 'Direction', type: 'string', jsonPath: '.spec.target.direction' },
    { name: 'Target', type: 'string', jsonPath: '.spec.target.host' },
    podsColumn,
    {
      name: 'Open',
      type: 'integer',
      jsonPath: '.status.openPods',
      description: 'Sidecars where it is open.',
    },
    reasonColumn,
    ageColumn,
  ],
};
