import { Type, type Static } from '@sinclair/typebox';
import { CommonStatusFields, LabelSelector } from '../common.js';
import { ageColumn, podsColumn, readyColumn, type KindDefinition } from '../kind-definition.js';
import { Duration, FreeForm, Name, NamedList, StringEnum } from '../schema-helpers.js';

/** One HTTP call of a saga step. URL and body may use `{{input.x}}` and `{{steps.<name>.response.body.y}}`. */
export const SagaCall = Type.Object({
  method: StringEnum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
  url: Type.String({
    pattern: '^https?://',
    maxLength: 2048,
    description: 'Target URL; templates allowed.',
  }),
  headers: Type.Optional(
    Type.Unsafe<Record<string, string>>({
      type: 'object',
      additionalProperties: { type: 'string', maxLength: 4096 },
      maxProperties: 32,
      description: 'Extra request headers; templates allowed in values.',
    }),
  ),
  body: Type.Optional(FreeForm('JSON body; string values may be templates.')),
  timeout: Type.Optional(Duration('Per-attempt timeout. Default 5s.')),
  retries: Type.Optional(
    Type.Object({
      attempts: Type.Integer({
        minimum: 1,
        maximum: 100,
        description: 'Total attempts including the first.',
      }),
      backoff: Duration('Base backoff, doubled per attempt, with jitter.'),
    }),
  ),
});
/** One HTTP call of a saga step. */
export type SagaCall = Static<typeof SagaCall>;

/** One step: an action and the compensation that undoes it. */
export const SagaStep = Type.Object({
  name: Name('Step name, unique within the saga; templates refer to it.'),
  action: SagaCall,
  compensation: Type.Optional(SagaCall),
});
/** One saga step. */
export type SagaStep = Static<typeof SagaStep>;

/** spec of a Saga. */
export const SagaSpec = Type.Object({
  selector: LabelSelector,
  timeout: Type.Optional(Duration('Bound on one instance; past it the instance compensates.')),
  steps: NamedList(SagaStep, { description: 'Steps, run in order.', what: 'step', maxItems: 32 }),
  retention: Type.Optional(Duration('How long finished instances stay readable. Default 24h.')),
});
/** spec of a Saga. */
export type SagaSpec = Static<typeof SagaSpec>;

/** status of a Saga. */
export const SagaStatus = Type.Object({
  ...CommonStatusFields,
  instances: Type.Optional(
    Type.Object(
      {
        running: Type.Optional(Type.Integer({ minimum: 0 })),
        completed: Type.Optional(Type.Integer({ minimum: 0 })),
        compensating: Type.Optional(Type.Integer({ minimum: 0 })),
        compensated: Type.Optional(Type.Integer({ minimum: 0 })),
        failed: Type.Optional(Type.Integer({ minimum: 0 })),
        needsAttention: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { description: 'Instances by state.' },
    ),
  ),
});

/** Saga (short name `sg`). */
export const sagaKind: KindDefinition = {
  kind: 'Saga',
  plural: 'sagas',
  singular: 'saga',
  shortNames: ['sg'],
  description:
    'A distributed transaction: steps with compensations, run by the sidecars of the selected pods.',
  spec: SagaSpec,
  status: SagaStatus,
  printerColumns: [
    readyColumn,
    podsColumn,
    { name: 'Running', type: 'integer', jsonPath: '.status.instances.running' },
    { name: 'Completed', type: 'integer', jsonPath: '.status.instances.completed' },
    { name: 'Compensated', type: 'integer', jsonPath: '.status.instances.compensated' },
    { name: 'Needs-Attention', type: 'integer', jsonPath: '.status.instances.needsAttention' },
    ageColumn,
  ],
};
