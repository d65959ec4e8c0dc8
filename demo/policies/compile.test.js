// @ts-check
// The demo's policies and shop, through the operator's real compiler, give every shop pod a
// SidecarConfig the sidecar accepts, enforcing what the demo's steps rely on. Needs `npx tsc -b`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { compileSidecarConfigs, sidecarConfigForPod } from '../../operator/dist/compiler/index.js';
import { validateConfigDocument } from '../../sidecar/dist/config/load-config.js';

const here = dirname(fileURLToPath(import.meta.url));
/** @param {string} file */
const documents = (file) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJSON());
const policies = readdirSync(here)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => documents(join(here, f)));
const deployments = documents(join(here, '../manifests/shop.yaml')).filter(
  (d) => d.kind === 'Deployment',
);

/** The shop's pods as the operator sees them once Ready: one per replica. */
const pods = deployments.flatMap((d, i) =>
  Array.from({ length: d.spec.replicas }, (_, r) => ({
    namespace: 'shop',
    name: `${d.metadata.name}-${r}`,
    labels: d.spec.template.metadata.labels,
    creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, i * 10 + r)).toISOString(),
    ready: true,
    podIP: `10.244.0.${i * 10 + r + 2}`,
    appPort: Number(d.spec.template.metadata.annotations['palisade.dev/app-port']),
  })),
);
/** @param {string} kind */
const of = (kind) =>
  policies
    .filter((p) => p.kind === kind)
    .map((p) => ({
      namespace: p.metadata.namespace,
      name: p.metadata.name,
      creationTimestamp: '2026-01-01T00:00:00Z',
      spec: p.spec,
    }));

const output = compileSidecarConfigs({
  pods,
  policies: {
    rateLimits: of('RateLimitPolicy'),
    circuitBreakers: of('CircuitBreaker'),
    sagas: of('Saga'),
    // The drill while it runs: every payments pod is a target.
    chaos: of('ChaosExperiment').map((c) => ({
      ...c,
      phase: 'Running',
      targets: pods.filter((p) => p.labels.shop === 'payments').map((p) => p.name),
    })),
  },
  installation: {
    ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
    app: { host: '127.0.0.1', defaultPort: 8080 },
    raft: { secretFile: '/var/run/palisade/raft-secret' },
  },
});

/** @param {string} podName */
function configOf(podName) {
  const shared = output.configs.find((c) => c.pods.includes(podName));
  assert.ok(shared, `${podName} got no config`);
  return validateConfigDocument(
    JSON.parse(JSON.stringify(sidecarConfigForPod(shared.config, podName))),
    podName,
  );
}

test('every shop pod gets a config the sidecar accepts', () => {
  for (const pod of pods) configOf(pod.name);
  for (const [key, d] of output.diagnostics) {
    assert.equal(d.invalidSelector, undefined, key);
    assert.deepEqual(d.conflicts, [], key);
    assert.ok(d.enforcedPods > 0, `${key} is enforced nowhere`);
  }
});

test('orders enforces the rate limit, the breaker on payments and the saga, in one 3-voter Raft group', () => {
  const config = configOf('orders-0');
  assert.deepEqual(
    config.rateLimits.map((r) => `${r.policy}/${r.name}`),
    ['shop/orders-limits/per-shopper'],
  );
  assert.deepEqual(
    config.circuitBreakers.map((b) => b.target.host),
    ['payments.shop.svc.cluster.local'],
  );
  assert.deepEqual(
    config.sagas.map((s) => s.name),
    ['shop/place-order'],
  );
  assert.equal(config.raft?.id, 'orders-0');
  assert.equal(config.raft?.peers.filter((p) => p.voter).length, 3);
});

test('only orders is in a Raft group', () => {
  assert.deepEqual([...output.raftGroups.keys()], ['shop/orders']);
  assert.equal(configOf('payments-0').raft, undefined);
});

test('the latency drill reaches payments inbound only', () => {
  assert.deepEqual(
    configOf('payments-0').faults.map(
      (f) => `${f.experiment} ${f.type} ${f.direction ?? 'inbound'}`,
    ),
    ['shop/payments-latency latency inbound'],
  );
  assert.deepEqual(configOf('orders-1').faults, []);
  assert.deepEqual(configOf('inventory-0').faults, []);
});
