import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadExamples } from './examples.js';
import { SidecarConfig } from './sidecar-config.js';
import { validateSidecarConfig } from './sidecar-config-validator.js';
import { createValidator } from './validate.js';

const srcDir = dirname(fileURLToPath(import.meta.url));
const example = loadExamples('valid').find((e) => e.file.endsWith('sidecar-config.yaml'));
if (example === undefined) throw new Error('crds/examples/sidecar-config.yaml is missing');
const validDocument = example.document;
const compiledNow = createValidator<SidecarConfig>(SidecarConfig);

type Path = readonly (string | number)[];

/** Every path into `value` (objects' keys, arrays' indexes), the root included. */
function pathsOf(value: unknown, path: Path = []): Path[] {
  const children =
    value !== null && typeof value === 'object'
      ? Object.entries(value).flatMap(([key, child]) =>
          pathsOf(child, [...path, Array.isArray(value) ? Number(key) : key]),
        )
      : [];
  return [path, ...children];
}

/** A copy of `document` with the node at `path` replaced (`undefined`: removed). */
function withNode(document: unknown, path: Path, node: unknown): unknown {
  const copy = structuredClone(document);
  if (path.length === 0) return node;
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (node === undefined) delete parent[last];
  else parent[last] = node;
  return copy;
}

const paths = pathsOf(validDocument);
/** Values that hit the schema's constraints: types, bounds, patterns, enums, CEL rules. */
const replacement = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1, 1.5, 65536, 1e9 + 1, '', '1x', '10s', 'outbound', 'header', '5xx'),
  fc.constantFrom({}, [], { unknownField: 1 }, { consecutiveFailures: 1, failureRatio: 0.5 }),
  fc.string({ maxLength: 300 }),
);

describe('generated SidecarConfig validator', () => {
  it('accepts the example', () => {
    expect(validateSidecarConfig(validDocument)).toEqual({ ok: true, value: validDocument });
  });

  it('refuses a fraction where an integer is due, also in an object with CEL rules', () => {
    const document = withNode(
      validDocument,
      ['circuitBreakers', 0, 'trip', 'consecutiveFailures'],
      1.5,
    );
    const result = validateSidecarConfig(document);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors).toContainEqual({
        field: 'circuitBreakers[0].trip.consecutiveFailures',
        message: 'must be of type integer',
      });
  });

  it('answers exactly as a validator compiled from the schema now (mutated documents)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...paths), replacement), { minLength: 1, maxLength: 4 }),
        (edits) => {
          let document = validDocument;
          for (const [path, node] of edits) {
            try {
              document = withNode(document, path, node);
            } catch {
              // An earlier edit removed this path's parent: the edit does not apply.
            }
          }
          expect(validateSidecarConfig(document)).toEqual(compiledNow(document));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('does not load TypeBox or the ajv compiler (only values from @palisade/crds/runtime)', () => {
    const reached = new Set<string>();
    const pending = ['runtime.ts'];
    const packages = new Set<string>();
    while (pending.length > 0) {
      const file = pending.pop() as string;
      if (reached.has(file)) continue;
      reached.add(file);
      const source = readFileSync(join(srcDir, file), 'utf8');
      // Value imports and re-exports; `import type` and `export type` are erased.
      for (const [, specifier] of source.matchAll(
        /^(?:import|export)\s+(?!type\s)(?:[^;]*?\sfrom\s+)?'([^']+)';/gms,
      )) {
        if (specifier === undefined) continue;
        if (specifier.startsWith('.'))
          pending.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
        else packages.add(specifier);
      }
    }
    expect([...packages].sort()).toEqual([
      '@marcbachmann/cel-js',
      'ajv/dist/runtime/ucs2length.js',
    ]);
  });
});
