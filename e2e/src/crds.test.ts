// The CRDs generated from crds/src, against a real API server: they install, every valid
// example is accepted, every invalid example is refused with the message its file announces,
// and kubectl shows what users expect (printer columns, category, short names, explain).
import { beforeAll, describe, expect, it } from '@jest/globals';
import { loadExamples, type Example } from '@palisade/crds/examples';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { kubectl, kubectlOk, repoRoot, withNamespace } from './support/index.js';

const crdYaml = readFileSync(join(repoRoot, 'crds', 'generated', 'all.yaml'), 'utf8');
const namespace = withNamespace('crds');

/** The example, moved into the test's namespace. */
function inNamespace(example: Example): string {
  const doc = parse(example.text) as { metadata: { namespace?: string } };
  doc.metadata.namespace = namespace.name;
  return stringify(doc);
}

beforeAll(async () => {
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', '-'], crdYaml);
  await kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/ratelimitpolicies.palisade.dev',
    'crd/circuitbreakers.palisade.dev',
    'crd/chaosexperiments.palisade.dev',
    'crd/sagas.palisade.dev',
  ]);
}, 90_000);

const valid = loadExamples('valid').filter((e) => !basename(e.file).startsWith('sidecar-config'));
const invalid = loadExamples('invalid');

describe('valid examples', () => {
  it.each(valid.map((e) => [basename(e.file), e] as const))(
    '%s is accepted by the API server',
    async (_name, example) => {
      const out = await kubectlOk(['apply', '-f', '-'], inNamespace(example));
      expect(out).toMatch(/created|configured|unchanged/);
    },
  );
});

describe('invalid examples', () => {
  it.each(invalid.map((e) => [basename(e.file), e] as const))(
    '%s is refused with a message naming the field',
    async (_name, example) => {
      const result = await kubectl(['apply', '-f', '-'], { input: inNamespace(example) });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(example.expectField);
      expect(result.stderr).toContain(example.expectMessage);
    },
  );
});

describe('kubectl', () => {
  it('lists every kind with `kubectl get palisade`, with printer columns', async () => {
    const out = await kubectlOk(['get', 'palisade', '-n', namespace.name]);
    for (const name of [
      'ratelimitpolicy.palisade.dev/checkout-limits',
      'circuitbreaker.palisade.dev/payments',
      'chaosexperiment.palisade.dev/latency-drill',
      'saga.palisade.dev/place-order',
    ]) {
      expect(out).toContain(name);
    }
    expect(out).toMatch(/NAME\s+READY\s+PODS\s+FAILURE-MODE/);
    expect(out).toMatch(/NAME\s+PHASE\s+PODS\s+VERIFIED/);
    expect(out).toMatch(
      /NAME\s+READY\s+PODS\s+RUNNING\s+COMPLETED\s+COMPENSATED\s+NEEDS-ATTENTION/,
    );
  });

  it('knows the short names rlp, cb, chaos and sg', async () => {
    const out = await kubectlOk(['get', 'rlp,cb,chaos,sg', '-n', namespace.name, '-o', 'name']);
    expect(out.trim().split('\n')).toHaveLength(4);
  });

  it('explains fields with their documentation', async () => {
    const out = await kubectlOk(['explain', 'ratelimitpolicy.spec.rules.key.type']);
    expect(out).toContain('one bucket per client address');
    const breaker = await kubectlOk(['explain', 'circuitbreaker.spec.trip']);
    expect(breaker).toContain('consecutiveFailures');
  });
});
