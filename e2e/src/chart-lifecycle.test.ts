// The chart's life cycle at the API level, with an operator that never runs (an image no node has,
// pull policy Never: its pods stay waiting even on a cluster with a node), so this file can stand
// in for it: `helm install` creates every object; values the operator writes at runtime (the
// webhook's caBundle, the certificate Secret's data) survive `helm upgrade`, which rolls the
// operator's pod template when a value changes; `helm uninstall` leaves nothing of the release but
// the CRDs. The same life cycle with the real operator and real pods: chart-pods.node.ts.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type {
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1Secret,
} from '@kubernetes/client-node';
import { join } from 'node:path';
import {
  chartDir,
  helm,
  helmOk,
  kubectl,
  kubectlOk,
  waitFor,
  withNamespace,
} from './support/index.js';

const releaseName = 'palisade';
const namespace = withNamespace('chart-life');

// helm and kubectl runs take seconds each on the shared 2-core machine.
jest.setTimeout(90_000);

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk(['get', ...args, '-o', 'json'])) as T;
}

/** Names of the release's cluster-scoped objects (they carry the release namespace). */
function clusterScoped(): string[] {
  const prefix = `${releaseName}-${namespace.name}`;
  return [
    `clusterrole/${prefix}-operator`,
    `clusterrole/${prefix}-sidecar`,
    `clusterrolebinding/${prefix}-operator`,
    `mutatingwebhookconfiguration/${prefix}`,
  ];
}

const NAMESPACED = [
  'deployment/palisade-operator',
  'poddisruptionbudget/palisade-operator',
  'serviceaccount/palisade-operator',
  'role/palisade-operator',
  'rolebinding/palisade-operator',
  'service/palisade-webhook',
  'service/palisade-metrics',
  'configmap/palisade-config',
  'secret/palisade-webhook-cert',
  'lease/palisade-operator',
];

// The operator must not run here (it would replace what the upgrade test writes in its place).
const NO_OPERATOR = [
  '--set',
  'operator.image.repository=palisade.local/absent',
  '--set',
  'image.pullPolicy=Never',
];

let installed = false;

beforeAll(async () => {
  // Helm installs crds/ when they are missing; other e2e files may have applied them already.
  await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(chartDir, 'crds')]);
});

afterAll(async () => {
  // A failed test must not leave the cluster-scoped objects (the webhook above all) behind.
  if (installed) await helm(['uninstall', releaseName, '--namespace', namespace.name, '--wait']);
  for (const object of clusterScoped()) await kubectl(['delete', object, '--ignore-not-found']);
}, 90_000);

describe('helm install → upgrade → uninstall (no pods)', () => {
  it('`helm install` creates every object and prints the next steps', async () => {
    const out = await helmOk(
      ['install', releaseName, chartDir, '--namespace', namespace.name, ...NO_OPERATOR],
      80_000,
    );
    installed = true;
    expect(out).toContain('STATUS: deployed');
    expect(out).toContain('kubectl label namespace <your-namespace> palisade.dev/inject=true');
    await kubectlOk(['get', '-n', namespace.name, ...NAMESPACED]);
    await kubectlOk(['get', ...clusterScoped()]);
    const webhook = await getJson<V1MutatingWebhookConfiguration>([clusterScoped()[3] ?? '']);
    expect(webhook.webhooks?.map((w) => w.failurePolicy)).toEqual(['Ignore', 'Ignore']);
  });

  it('`helm upgrade` with a changed value rolls the operator and keeps what the operator wrote', async () => {
    // Stand in for the operator: a CA in the webhook configuration and a key pair in the Secret.
    const webhookName = clusterScoped()[3] ?? '';
    const caBundle = Buffer.from('test CA bundle').toString('base64');
    const patch = JSON.stringify({
      webhooks: [
        { name: 'pod.inject.palisade.dev', clientConfig: { caBundle } },
        { name: 'namespace.inject.palisade.dev', clientConfig: { caBundle } },
      ],
    });
    await kubectlOk(['patch', webhookName, '--type', 'strategic', '-p', patch]);
    // The operator replaces the whole Secret (PUT): its own type, labels and keys.
    const tls = Buffer.from('test key pair').toString('base64');
    const current = await getJson<V1Secret>(['-n', namespace.name, 'secret/palisade-webhook-cert']);
    expect(current.type).toBe('kubernetes.io/tls');
    await kubectlOk(
      ['replace', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: {
          name: 'palisade-webhook-cert',
          namespace: namespace.name,
          resourceVersion: current.metadata?.resourceVersion,
          labels: { 'app.kubernetes.io/managed-by': 'palisade-operator' },
        },
        data: { 'tls.crt': tls, 'tls.key': tls, 'ca.crt': tls, 'ca.key': tls },
      }),
    );
    const before = await getJson<V1Deployment>(['-n', namespace.name, NAMESPACED[0] ?? '']);

    await helmOk(
      [
        'upgrade',
        releaseName,
        chartDir,
        '--namespace',
        namespace.name,
        '--reuse-values',
        '--set',
        'sidecar.logLevel=debug',
      ],
      80_000,
    );

    const after = await getJson<V1Deployment>(['-n', namespace.name, NAMESPACED[0] ?? '']);
    const checksum = (d: V1Deployment) =>
      d.spec?.template.metadata?.annotations?.['checksum/config'];
    expect(checksum(after)).not.toBe(checksum(before));
    expect(after.metadata?.generation).toBeGreaterThan(before.metadata?.generation ?? 0);
    const config = await kubectlOk([
      'get',
      '-n',
      namespace.name,
      'configmap/palisade-config',
      '-o',
      'jsonpath={.data.installation\\.yaml}',
    ]);
    expect(config).toContain('logLevel: debug');
    const webhook = await getJson<V1MutatingWebhookConfiguration>([webhookName]);
    expect(webhook.webhooks?.map((w) => w.clientConfig.caBundle)).toEqual([caBundle, caBundle]);
    const secret = await getJson<V1Secret>(['-n', namespace.name, 'secret/palisade-webhook-cert']);
    expect(secret.data).toEqual({ 'tls.crt': tls, 'tls.key': tls, 'ca.crt': tls, 'ca.key': tls });
  });

  it('`helm uninstall` leaves nothing of the release but the CRDs', async () => {
    await helmOk(['uninstall', releaseName, '--namespace', namespace.name, '--wait'], 80_000);
    installed = false;
    // The operator's pods (scheduled on a node, never started) go with their ReplicaSet's
    // garbage collection, shortly after helm returns.
    const left = await waitFor(
      async () => {
        const names = await kubectlOk([
          'get',
          '-n',
          namespace.name,
          'all,configmaps,secrets,serviceaccounts,roles,rolebindings,poddisruptionbudgets',
          '-l',
          `app.kubernetes.io/instance=${releaseName}`,
          '-o',
          'name',
        ]);
        return names.trim() === '' ? names : undefined;
      },
      { what: 'no object of the release left', timeoutMs: 60_000 },
    );
    expect(left.trim()).toBe('');
    for (const object of clusterScoped()) {
      const result = await kubectl(['get', object, '-o', 'name']);
      expect(result.stderr).toContain('NotFound');
    }
    await kubectlOk([
      'get',
      'crd/ratelimitpolicies.palisade.dev',
      'crd/circuitbreakers.palisade.dev',
      'crd/chaosexperiments.palisade.dev',
      'crd/sagas.palisade.dev',
    ]);
  });
});
