import type { TSchema } from '@sinclair/typebox';
import { CATEGORY, GROUP, VERSION, type KindDefinition } from './kind-definition.js';

/** JSON value as it appears in a generated manifest. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Turns a TypeBox schema into the OpenAPI v3 subset the API server accepts (a structural
 * schema): plain JSON (TypeBox's symbol keys dropped), no `$id`.
 */
export function toOpenApi(schema: TSchema): Json {
  return strip(JSON.parse(JSON.stringify(schema)) as Json);
}

function strip(node: Json): Json {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$id') continue;
    out[key] = strip(value);
  }
  return out;
}

/** The `apiextensions.k8s.io/v1` CustomResourceDefinition of one kind. */
export function toCustomResourceDefinition(def: KindDefinition): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'palisade', 'app.kubernetes.io/part-of': 'palisade' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns as unknown as Json,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: def.description,
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'APIVersion defines the versioned schema of this representation.',
                },
                kind: {
                  type: 'string',
                  description: 'Kind is the REST resource this object represents.',
                },
                metadata: { type: 'object' },
                spec: toOpenApi(def.spec),
                status: toOpenApi(def.status),
              },
            },
          },
        },
      ],
    },
  };
}
