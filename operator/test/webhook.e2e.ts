// The sidecar-injection webhook of the real `palisade-operator` process on the local control
// plane (e2e project; `npx tsc -b` first). The API server runs on this host, so the webhook is
// registered with `url: https://127.0.0.1:<port>/mutate`; the operator generates its CA and
// serving certificate into a Secret and patches the configuration's caBundle. The webhook is
// scoped to this test's namespace so that no other test's pods go through it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { generateCertificates } from '@palisade/operator';
import { OperatorProcess } from './support/operator-process.js';
import { poll } from './support/poll.js';
import { freePort } from '../../sidecar/test/support/sidecar-process.js';

const kubeconfigPath =
  process.env['PALISADE_KUBECONFIG'] ??
  join(homedir(), '.cache', 'palisade', 'cluster', 'admin.kubeconfig');
const namespace = `palisade-wh-${process.pid}`;
const configurationName = `palisade-e2e-injector-${process.pid}`;

let kc: KubeConfig;
let core: CoreV1Api;
let admission: AdmissionregistrationV1Api;
let port: number;
const processes: OperatorProcess[] = [];

function startOperator(): OperatorProcess {
  const p = new OperatorProcess('webhook-operator', [
    '--kubeconfig',
    kubeconfigPath,
    '--leader-elect=false',
    '--operator-namespace',
    namespace,
    '--watch-namespace',
    namespace,
    '--health-bind',
    '127.0.0.1:0',
    '--webhook-bind',
    `127.0.0.1:${port}`,
    '--webhook-ip',
    '127.0.0.1',
    '--webhook-configuration',
    configurationName,
    '--sidecar-image',
    'palisade/sidecar:e2e',
  ]);
  processes.push(p);
  return p;
}

function pod(
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): V1Pod {
  return {
    metadata: { name, namespace, labels, annotations },
    spec: {
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'app',
          image: 'example.invalid/app:1',
          ports: [{ name: 'http', containerPort: 8080 }],
        },
      ],
    },
  };
}

const sidecars = (p: V1Pod) =>
  (p.spec?.containers ?? []).filter((c) => c.name === 'palisade-sidecar');

beforeAll(async () => {
  kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  admission = kc.makeApiClient(AdmissionregistrationV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core
    .createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } })
    .catch(() => undefined);
  port = await freePort();
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: configurationName },
      webhooks: [
        {
          name: 'inject.palisade.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Ignore',
          timeoutSeconds: 5,
          reinvocationPolicy: 'IfNeeded',
          clientConfig: { url: `https://127.0.0.1:${port}/mutate` },
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE'],
              resources: ['pods'],
              scope: 'Namespaced',
            },
          ],
          objectSelector: { matchLabels: { 'palisade.dev/inject': 'true' } },
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
        },
      ],
    },
  });
}, 30_000);

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await admission
    ?.deleteMutatingWebhookConfiguration({ name: configurationName })
    .catch(() => undefined);
  await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
});

describe('sidecar injection webhook', () => {
  it('injects exactly once, leaves others alone, refuses a missing port, and never blocks when down', async () => {
    const operator = startOperator();
    expect(await operator.webhookPort()).toBe(port);
    // The operator created the Secret and patched the caBundle.
    const secret = await core.readNamespacedSecret({ namespace, name: 'palisade-webhook-tls' });
    expect(Object.keys(secret.data ?? {}).sort()).toEqual([
      'ca-bundle.crt',
      'ca.crt',
      'ca.key',
      'tls.crt',
      'tls.key',
    ]);
    await poll('caBundle patched', async () => {
      const c = await admission.readMutatingWebhookConfiguration({ name: configurationName });
      return c.webhooks?.[0]?.clientConfig.caBundle === secret.data?.['ca-bundle.crt']
        ? true
        : undefined;
    });

    const injected = await core.createNamespacedPod({
      namespace,
      body: pod(
        'labelled',
        { app: 'shop', 'palisade.dev/inject': 'true' },
        { 'palisade.dev/app-port': 'http' },
      ),
    });
    expect(sidecars(injected)).toHaveLength(1);
    expect(injected.metadata?.labels?.['palisade.dev/sidecar']).toBe('injected');
    expect(injected.metadata?.annotations?.['palisade.dev/app-port']).toBe('8080');
    const app = injected.spec?.containers.find((c) => c.name === 'app');
    expect(app?.env?.find((e) => e.name === 'HTTP_PROXY')?.value).toBe('http://127.0.0.1:15001');
    const sidecar = sidecars(injected)[0];
    expect(sidecar?.image).toBe('palisade/sidecar:e2e');
    expect(sidecar?.ports?.map((p) => p.containerPort)).toEqual([15006, 15001, 15010, 15020]);
    expect(sidecar?.env?.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'status.podIP',
    );
    expect(injected.spec?.volumes?.some((v) => v.name === 'palisade-data')).toBe(true);

    const plain = await core.createNamespacedPod({
      namespace,
      body: pod('unlabelled', { app: 'shop' }),
    });
    expect(sidecars(plain)).toHaveLength(0);
    expect(plain.metadata?.labels?.['palisade.dev/sidecar']).toBeUndefined();
    expect(plain.spec?.containers[0]?.env).toBeUndefined();

    const refusal = await core
      .createNamespacedPod({ namespace, body: pod('no-port', { 'palisade.dev/inject': 'true' }) })
      .then(
        () => 'created',
        (error: unknown) => String((error as { body?: unknown }).body ?? error),
      );
    expect(refusal).toContain('palisade.dev/app-port');

    expect(
      await operator.metric('palisade_operator_webhook_admissions_total', 'outcome="injected"'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await operator.metric('palisade_operator_webhook_admissions_total', 'outcome="refused"'),
    ).toBe(1);

    // Operator down: failurePolicy Ignore admits labelled pods (without a sidecar).
    operator.kill('SIGTERM');
    expect((await operator.exited).code).toBe(0);
    const t0 = Date.now();
    const whileDown = await core.createNamespacedPod({
      namespace,
      body: pod(
        'while-down',
        { 'palisade.dev/inject': 'true' },
        { 'palisade.dev/app-port': '8080' },
      ),
    });
    expect(sidecars(whileDown)).toHaveLength(0);
    expect(Date.now() - t0).toBeLessThan(5_000);

    // Restarted: the stored certificate is reused (no new one generated), injection resumes.
    const again = startOperator();
    await again.webhookPort();
    const reinjected = await poll('injection after restart', async () => {
      const name = `after-restart-${Date.now()}`;
      const created = await core.createNamespacedPod({
        namespace,
        body: pod(name, { 'palisade.dev/inject': 'true' }, { 'palisade.dev/app-port': '8080' }),
      });
      return sidecars(created).length === 1 ? created : undefined;
    });
    expect(sidecars(reinjected)).toHaveLength(1);
    expect(again.logs.some((l) => l.msg === 'webhook certificate generated')).toBe(false);
    again.kill('SIGTERM');
    await again.exited;

    // Rotation: a stored certificate about to expire is replaced at start; the new CA leads the
    // caBundle, the old one follows while valid, and the API server trusts the new certificate.
    const expiring = generateCertificates({
      names: { dnsNames: ['palisade-operator'], ipAddresses: ['127.0.0.1'] },
      nowMs: Date.now(),
      servingValidityMs: 24 * 3_600_000,
    });
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    await core.replaceNamespacedSecret({
      namespace,
      name: 'palisade-webhook-tls',
      body: {
        metadata: { name: 'palisade-webhook-tls', namespace },
        type: 'kubernetes.io/tls',
        data: {
          'tls.crt': b64(expiring.cert),
          'tls.key': b64(expiring.key),
          'ca.crt': b64(expiring.caCert),
          'ca.key': b64(expiring.caKey),
          'ca-bundle.crt': b64(expiring.caBundle),
        },
      },
    });
    const rotated = startOperator();
    const generated = await rotated.waitForLog(
      'a new certificate',
      (l) => l.msg === 'webhook certificate generated',
    );
    expect(generated['reason']).toBe('certificate expires soon');
    const stored = await core.readNamespacedSecret({ namespace, name: 'palisade-webhook-tls' });
    const bundle = Buffer.from(stored.data?.['ca-bundle.crt'] ?? '', 'base64').toString();
    expect(bundle.endsWith(expiring.caCert)).toBe(true);
    expect(bundle.length).toBeGreaterThan(expiring.caCert.length);
    await poll('caBundle rotated', async () => {
      const c = await admission.readMutatingWebhookConfiguration({ name: configurationName });
      return c.webhooks?.[0]?.clientConfig.caBundle === stored.data?.['ca-bundle.crt']
        ? true
        : undefined;
    });
    const afterRotation = await core.createNamespacedPod({
      namespace,
      body: pod(
        'after-rotation',
        { 'palisade.dev/inject': 'true' },
        { 'palisade.dev/app-port': '8080' },
      ),
    });
    expect(sidecars(afterRotation)).toHaveLength(1);
  }, 90_000);
});
