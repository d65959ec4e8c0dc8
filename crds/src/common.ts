import { Type, type Static } from '@sinclair/typebox';
import { StringEnum, StringMap } from './schema-helpers.js';

/** Standard Kubernetes LabelSelector (metav1.LabelSelector). */
export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(StringMap('Pods must carry all of these labels.')),
    matchExpressions: Type.Optional(
      Type.Array(
        Type.Object({
          key: Type.String({ maxLength: 317 }),
          operator: StringEnum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 64 })),
        }),
        { maxItems: 16, description: 'Set-based requirements; all must hold.' },
      ),
    ),
  },
  { description: "Selects pods of the resource's own namespace (standard LabelSelector)." },
);
/** Standard Kubernetes LabelSelector. */
export type LabelSelector = Static<typeof LabelSelector>;

/** metav1.Condition, as written by the operator. */
export const Condition = Type.Object({
  type: Type.String({ maxLength: 316 }),
  status: StringEnum(['True', 'False', 'Unknown']),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String({ maxLength: 1024 }),
  message: Type.String({ maxLength: 32768 }),
});
/** metav1.Condition. */
export type Condition = Static<typeof Condition>;

/** Fields every Palisade status carries. */
export const CommonStatusFields = {
  observedGeneration: Type.Optional(
    Type.Integer({ description: 'The metadata.generation this status describes.' }),
  ),
  conditions: Type.Optional(
    Type.Array(Condition, { description: 'Ready, plus kind-specific conditions.' }),
  ),
  matchedPods: Type.Optional(
    Type.Integer({ minimum: 0, description: 'Pods currently selected by spec.selector.' }),
  ),
};

/** Request matcher shared by rate limits and faults. */
export const RequestMatch = Type.Object(
  {
    path: Type.Optional(
      Type.String({ description: 'Exact path.', pattern: '^/', maxLength: 1024 }),
    ),
    pathPrefix: Type.Optional(
      Type.String({ description: 'Path prefix.', pattern: '^/', maxLength: 1024 }),
    ),
    methods: Type.Optional(
      Type.Array(StringEnum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']), {
        maxItems: 7,
        description: 'HTTP methods; any when absent.',
      }),
    ),
    headers: Type.Optional(StringMap('Headers that must be present with exactly these values.')),
  },
  {
    description: 'Which requests a rule applies to; all given conditions must hold.',
    'x-kubernetes-validations': [
      {
        rule: '!(has(self.path) && has(self.pathPrefix))',
        message: 'set path or pathPrefix, not both',
      },
    ],
  },
);
/** Request matcher. */
export type RequestMatch = Static<typeof RequestMatch>;

/** Traffic direction relative to the pod. */
export const Direction = StringEnum(['inbound', 'outbound'], {
  description: 'inbound: clients calling this pod; outbound: this pod calling others.',
});
