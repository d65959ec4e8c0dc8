import { Type, type Static } from '@sinclair/typebox';
import { CommonStatusFields, Direction, LabelSelector, RequestMatch } from '../common.js';
import { ageColumn, podsColumn, type KindDefinition } from '../kind-definition.js';
import { Duration, StringEnum, cel } from '../schema-helpers.js';

/** One fault. Which fields apply depends on `type` (checked by CEL). */
export const Fault = Type.Object(
  {
    type: StringEnum(['latency', 'abort', 'partition', 'podKill'], {
      description:
        'latency: delay requests; abort: answer with httpStatus; partition: isolate Raft traffic; podKill: delete pods.',
    }),
    delay: Type.Optional(Duration('latency: added delay.')),
    jitter: Type.Optional(Duration('latency: uniform jitter added to delay (±).')),
    httpStatus: Type.Optional(
      Type.Integer({ minimum: 200, maximum: 599, description: 'abort: status to answer.' }),
    ),
    percentage: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 100,
        description: 'latency/abort: share of matching requests (0–100). Default 100.',
      }),
    ),
    direction: Type.Optional(Direction),
    match: Type.Optional(RequestMatch),
    target: Type.Optional(
      StringEnum(['raft', 'raftLeader'], {
        description:
          'partition: the traffic to cut (raft). podKill: raftLeader kills, each round, the Raft leader among the pods the selector matches then.',
      }),
    ),
    count: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'podKill: pods per kill.' }),
    ),
    interval: Type.Optional(Duration('podKill: time between kills; once when absent.')),
    gracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
  },
  cel(
    {
      rule: "self.type != 'latency' || has(self.delay)",
      message: 'a latency fault needs delay',
      fieldPath: '.delay',
    },
    {
      rule: "self.type != 'abort' || has(self.httpStatus)",
      message: 'an abort fault needs httpStatus',
      fieldPath: '.httpStatus',
    },
    {
      rule: "self.type != 'partition' || (has(self.target) && self.target == 'raft')",
      message: 'a partition fault needs target (raft)',
      fieldPath: '.target',
    },
    {
      rule: "self.type != 'podKill' || !has(self.target) || self.target == 'raftLeader'",
      message: 'the target of a podKill fault can only be raftLeader',
      fieldPath: '.target',
    },
    {
      rule: "self.type == 'partition' || self.type == 'podKill' || !has(self.target)",
      message: 'target applies to partition and podKill faults only',
      fieldPath: '.target',
    },
    {
      rule: "self.type == 'latency' || self.type == 'abort' || (!has(self.percentage) && !has(self.direction) && !has(self.match))",
      message: 'percentage, direction and match apply to latency and abort faults only',
    },
    {
      rule: "self.type == 'latency' || (!has(self.delay) && !has(self.jitter))",
      message: 'delay and jitter apply to latency faults only',
    },
    {
      rule: "self.type == 'podKill' || (!has(self.count) && !has(self.interval) && !has(self.gracePeriodSeconds))",
      message: 'count, interval and gracePeriodSeconds apply to podKill faults only',
    },
  ),
);
/** One fault of an experiment. */
export type Fault = Static<typeof Fault>;

/** Which of the selected pods are targeted. */
export const TargetMode = Type.Object(
  {
    type: StringEnum(['all', 'one', 'fixed', 'fixed-percent']),
    value: Type.Optional(
      Type.Integer({ minimum: 1, description: 'fixed: pod count; fixed-percent: 1–100.' }),
    ),
  },
  cel(
    {
      rule: "(self.type != 'fixed' && self.type != 'fixed-percent') || has(self.value)",
      message: 'mode fixed and fixed-percent need value',
      fieldPath: '.value',
    },
    {
      rule: "self.type != 'fixed-percent' || self.value <= 100",
      message: 'a percentage must be between 0 and 100',
      fieldPath: '.value',
    },
  ),
);

/** What must be observed during a run for `Verified` to be True. */
export const Expectation = Type.Object(
  {
    type: StringEnum(['circuitOpens', 'rateLimited', 'leaseChangesHolder', 'sagasTerminal']),
    circuitBreaker: Type.Optional(
      Type.String({ maxLength: 253, description: 'circuitOpens: the CircuitBreaker name.' }),
    ),
    lease: Type.Optional(
      Type.String({ maxLength: 253, description: 'leaseChangesHolder: the lease name.' }),
    ),
    within: Type.Optional(
      Duration(
        'leaseChangesHolder: the change must be seen within this long after the run starts.',
      ),
    ),
  },
  cel(
    {
      rule: "self.type != 'circuitOpens' || has(self.circuitBreaker)",
      message: 'expectation circuitOpens needs circuitBreaker',
      fieldPath: '.circuitBreaker',
    },
    {
      rule: "self.type != 'leaseChangesHolder' || has(self.lease)",
      message: 'expectation leaseChangesHolder needs lease',
      fieldPath: '.lease',
    },
  ),
);

/** spec of a ChaosExperiment. */
export const ChaosExperimentSpec = Type.Object({
  selector: LabelSelector,
  mode: TargetMode,
  faults: Type.Array(Fault, {
    minItems: 1,
    maxItems: 16,
    description: 'Faults injected while running.',
  }),
  duration: Duration('How long one run lasts.'),
  schedule: Type.Optional(
    Type.String({
      description: 'Cron schedule (5 fields) to repeat the experiment.',
      pattern: '^(\\S+\\s+){4}\\S+$',
      maxLength: 128,
    }),
  ),
  abortWhen: Type.Optional(
    Type.Object(
      {
        errorRatio: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: 1,
            description: 'Abort when 5xx/requests over window reaches this.',
          }),
        ),
        window: Type.Optional(Duration('Window for errorRatio.')),
        circuitBreakerOpens: Type.Optional(
          Type.String({ maxLength: 253, description: 'Abort when this CircuitBreaker opens.' }),
        ),
      },
      cel(
        {
          rule: 'has(self.errorRatio) || has(self.circuitBreakerOpens)',
          message: 'abortWhen needs errorRatio or circuitBreakerOpens',
        },
        {
          rule: '!has(self.errorRatio) || has(self.window)',
          message: 'abortWhen.errorRatio needs window',
          fieldPath: '.window',
        },
      ),
    ),
  ),
  expect: Type.Optional(Type.Array(Expectation, { maxItems: 16 })),
  allowQuorumLoss: Type.Optional(
    Type.Boolean({
      description: 'Allow killing or partitioning a majority of a Raft group. Default false.',
    }),
  ),
  paused: Type.Optional(Type.Boolean()),
});
/** spec of a ChaosExperiment. */
export type ChaosExperimentSpec = Static<typeof ChaosExperimentSpec>;

/** status of a ChaosExperiment. */
export const ChaosExperimentStatus = Type.Object({
  ...CommonStatusFields,
  phase: Type.Optional(StringEnum(['Pending', 'Running', 'Paused', 'Completed', 'Aborted'])),
  startTime: Type.Optional(Type.String({ format: 'date-time' })),
  endTime: Type.Optional(Type.String({ format: 'date-time' })),
  targets: Type.Optional(
    Type.Array(Type.String({ maxLength: 253 }), {
      description: 'Pods targeted by the current run.',
    }),
  ),
  injected: Type.Optional(
    Type.Object(
      {
        latency: Type.Optional(Type.Integer({ minimum: 0 })),
        abort: Type.Optional(Type.Integer({ minimum: 0 })),
        partition: Type.Optional(Type.Integer({ minimum: 0 })),
        podKill: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { description: 'Faults injected in the current run, by type.' },
    ),
  ),
  podKillRounds: Type.Optional(
    Type.Object(
      {
        done: Type.Integer({
          minimum: 0,
          description: 'podKill rounds due so far and carried out or skipped.',
        }),
        skipped: Type.Integer({ minimum: 0, description: 'Rounds that killed nothing.' }),
        lastSkipReason: Type.Optional(
          Type.String({
            maxLength: 1024,
            description: 'Why the latest skipped round killed nothing.',
          }),
        ),
      },
      { description: 'podKill rounds of the current run (kills are counted in injected.podKill).' },
    ),
  ),
  runs: Type.Optional(
    Type.Array(
      Type.Object({
        startTime: Type.String({ format: 'date-time' }),
        endTime: Type.Optional(Type.String({ format: 'date-time' })),
        phase: Type.String(),
      }),
      { description: 'Recent runs of a scheduled experiment, newest last (at most 10).' },
    ),
  ),
  expectations: Type.Optional(
    Type.Array(
      Type.Object({
        type: Type.String({ maxLength: 64 }),
        subject: Type.Optional(Type.String({ maxLength: 253 })),
        met: Type.Optional(Type.Boolean()),
        observedTime: Type.Optional(Type.String({ format: 'date-time' })),
        message: Type.Optional(Type.String({ maxLength: 1024 })),
      }),
      {
        maxItems: 16,
        description: 'One entry per spec.expect item: whether the current run observed it.',
      },
    ),
  ),
});

/** ChaosExperiment (short name `chaos`). */
export const chaosExperimentKind: KindDefinition = {
  kind: 'ChaosExperiment',
  plural: 'chaosexperiments',
  singular: 'chaosexperiment',
  shortNames: ['chaos'],
  description: 'Injects latency, errors, Raft partitions and pod kills into selected pods.',
  spec: ChaosExperimentSpec,
  status: ChaosExperimentStatus,
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    podsColumn,
    {
      name: 'Verified',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Verified")].status',
    },
    { name: 'Duration', type: 'string', jsonPath: '.spec.duration' },
    { name: 'Started', type: 'date', jsonPath: '.status.startTime' },
    ageColumn,
  ],
};
