import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { examplesDir } from './examples.js';
import { renderCrdFiles } from './render.js';
import { renderReferenceDocs } from './render-docs.js';
import { renderSidecarConfigCheck } from './render-validators.js';

const generatedDir = join(examplesDir, '..', 'generated');

describe('generated reference docs', () => {
  it.each(renderReferenceDocs().map((f) => [f.name, f] as const))(
    'docs/reference/%s is up to date (run `make crds` if this fails)',
    (_name, file) => {
      const path = join(examplesDir, '..', '..', 'docs', 'reference', file.name);
      expect(readFileSync(path, 'utf8')).toBe(file.content);
    },
  );
});

describe('generated CRD YAML', () => {
  it.each(renderCrdFiles().map((f) => [f.name, f] as const))(
    'crds/generated/%s is up to date (run `make crds` if this fails)',
    (_name, file) => {
      expect(readFileSync(join(generatedDir, file.name), 'utf8')).toBe(file.content);
    },
  );
});

describe('generated SidecarConfig validator', () => {
  it('crds/src/generated/sidecar-config-check.ts is up to date (run `make crds` if this fails)', () => {
    const file = renderSidecarConfigCheck();
    expect(readFileSync(join(examplesDir, '..', 'src', file.name), 'utf8')).toBe(file.content);
  });
});

type Node = Record<string, unknown>;

/** The rules of a structural schema (apiextensions v1) that our generator could break. */
function structuralViolations(node: Node, path: string): string[] {
  const problems: string[] = [];
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (node.type === undefined && !preserve) problems.push(`${path}: no type`);
  for (const banned of [
    '$ref',
    '$id',
    'allOf',
    'anyOf',
    'oneOf',
    'not',
    'patternProperties',
    'const',
  ]) {
    if (banned in node) problems.push(`${path}: uses ${banned}`);
  }
  if (typeof node.exclusiveMinimum === 'number' || typeof node.exclusiveMaximum === 'number')
    problems.push(`${path}: numeric exclusiveMinimum/Maximum (OpenAPI v3.0 wants booleans)`);
  if (node.properties !== undefined && node.additionalProperties !== undefined)
    problems.push(`${path}: properties together with additionalProperties`);
  for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Node>))
    problems.push(...structuralViolations(child, `${path}.${key}`));
  if (node.items !== undefined)
    problems.push(...structuralViolations(node.items as Node, `${path}[]`));
  if (typeof node.additionalProperties === 'object')
    problems.push(...structuralViolations(node.additionalProperties as Node, `${path}{}`));
  return problems;
}

describe('CRD structure (apiextensions.k8s.io/v1)', () => {
  const crds = renderCrdFiles()
    .filter((f) => f.name !== 'all.yaml')
    .map((f) => parse(f.content) as Node);

  it.each(crds.map((c) => [(c.metadata as Node).name as string, c] as const))(
    '%s has a structural schema, status subresource, category and short names',
    (_name, crd) => {
      const spec = crd.spec as Node;
      const version = (spec.versions as Node[])[0] as Node;
      const schema = (version.schema as Node).openAPIV3Schema as Node;
      expect(structuralViolations(schema, 'openAPIV3Schema')).toEqual([]);
      expect(version.subresources).toEqual({ status: {} });
      expect((spec.names as Node).categories).toEqual(['palisade']);
      expect(((spec.names as Node).shortNames as string[]).length).toBeGreaterThan(0);
      expect((version.additionalPrinterColumns as Node[]).length).toBeGreaterThanOrEqual(3);
    },
  );
});
