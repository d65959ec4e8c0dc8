// @ts-check
// The demo's policies are valid custom resources (the schemas kubectl apply checks, from crds/),
// and name what the shop really has: its apps, its services and the breaker the drill expects.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { allKinds, createResourceValidator, formatErrors } from '../../crds/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
/** @param {string} file */
const documents = (file) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON());
const policies = readdirSync(here)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => documents(join(here, f)).map((doc) => ({ file: f, doc })));
const shop = documents(join(here, '../manifests/shop.yaml'));

test('every demo policy is valid for its CRD schema', () => {
  assert.equal(policies.length, 4);
  for (const { file, doc } of policies) {
    const kind = allKinds.find((k) => k.kind === doc.kind);
    assert.ok(kind, `${file}: unknown kind ${doc.kind}`);
    const result = createResourceValidator(kind)(doc);
    assert.ok(result.ok, `${file}: ${result.ok ? '' : formatErrors(result.errors)}`);
  }
});

test('the policies select the shop apps and call its services by their full names', () => {
  const apps = shop
    .filter((d) => d.kind === 'Deployment')
    .map((d) => d.spec.template.metadata.labels.shop);
  const services = shop
    .filter((d) => d.kind === 'Service')
    .map((d) => `${d.metadata.name}.shop.svc.cluster.local`);
  for (const { file, doc } of policies) {
    assert.ok(apps.includes(doc.spec.selector.matchLabels.shop), `${file} selects no shop service`);
    for (const url of JSON.stringify(doc.spec).match(/http:\/\/[^/"]+/g) ?? []) {
      assert.ok(
        services.includes(url.slice('http://'.length)),
        `${file}: ${url} is no shop service`,
      );
    }
  }
  const breakers = policies
    .filter((p) => p.doc.kind === 'CircuitBreaker')
    .map((p) => p.doc.metadata.name);
  const drill = policies.find((p) => p.doc.kind === 'ChaosExperiment')?.doc;
  assert.ok(breakers.includes(drill?.spec.expect[0].circuitBreaker));
  assert.ok(
    services.includes(policies.find((p) => p.doc.kind === 'CircuitBreaker')?.doc.spec.target.host),
  );
});

test('every shop pod asks for the sidecar and names its app port; services target the inbound port', () => {
  for (const d of shop.filter((x) => x.kind === 'Deployment')) {
    assert.equal(d.spec.template.metadata.labels['palisade.dev/inject'], 'true', d.metadata.name);
    assert.equal(
      d.spec.template.metadata.annotations['palisade.dev/app-port'],
      '8080',
      d.metadata.name,
    );
  }
  for (const s of shop.filter((x) => x.kind === 'Service'))
    assert.equal(s.spec.ports[0].targetPort, 15006);
});
