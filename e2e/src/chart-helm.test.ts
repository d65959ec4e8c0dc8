// The Helm chart (charts/palisade) against helm and the real API server: `helm lint --strict` is
// clean; `helm template` renders with the defaults and with every optional feature on; every
// rendered manifest is accepted by `kubectl apply --dry-run=server`; the RBAC has no wildcard
// and a reason per rule; the webhook is fail-open with selectors that skip the operator's own
// namespace; every value is documented and covered by values.schema.json, which refuses bad
// values naming them. No pod runs here (the local cluster has no kubelet yet): `helm install`
// and `helm test` on real pods come with the real-pods issue.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type {
  V1ClusterRole,
  V1ConfigMap,
  V1Deployment,
  V1MutatingWebhookConfiguration,
  V1PodDisruptionBudget,
  V1Pod,
  V1PolicyRule,
  V1Role,
} from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, parseDocument, isMap, isScalar, type Node } from 'yaml';
import {
  chartDir,
  helm,
  kubectl,
  kubectlOk,
  loadKubeConfig,
  withNamespace,
} from './support/index.js';

const releaseName = 'palisade';

// helm and kubectl runs take seconds each on the shared 2-core machine.
jest.setTimeout(60_000);

/** Values that turn every optional feature of the chart on. */
const ALL_FEATURES: readonly string[] = [
  'serviceMonitor.enabled=true',
  'redis.install=true',
  'webhook.certManager.enabled=true',
  'tracing.otlpEndpoint=http://otel-collector.observability:4318',
  'tracing.sampleRatio=0.5',
  'imagePullSecrets[0].name=pull-secret',
];

/** CRDs of the optional integrations, stubbed (any spec) when the cluster lacks them. */
const STUB_CRDS = [
  { group: 'cert-manager.io', kind: 'Certificate', plural: 'certificates' },
  { group: 'cert-manager.io', kind: 'Issuer', plural: 'issuers' },
  { group: 'monitoring.coreos.com', kind: 'ServiceMonitor', plural: 'servicemonitors' },
] as const;

/** One object of a rendered chart. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

/** `helm template` of the chart into `namespace`; fails the test with helm's message. */
async function render(namespace: string, sets: readonly string[] = []): Promise<Manifest[]> {
  const args = ['template', releaseName, chartDir, '--namespace', namespace];
  for (const set of sets) args.push('--set', set);
  const result = await helm(args);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

function findAll<T>(manifests: readonly Manifest[], kind: string): T[] {
  return manifests.filter((m) => m.kind === kind) as unknown as T[];
}

function findOne<T>(manifests: readonly Manifest[], kind: string, name?: string): T {
  const found = manifests.filter(
    (m) => m.kind === kind && (name === undefined || m.metadata.name === name),
  );
  if (found.length !== 1) {
    throw new Error(
      `expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`,
    );
  }
  return found[0] as unknown as T;
}

function toYamlStream(manifests: readonly Manifest[]): string {
  return manifests.map((m) => JSON.stringify(m)).join('\n---\n');
}

describe('helm lint and values', () => {
  it.each([
    ['the defaults', [] as readonly string[]],
    ['every option on', ALL_FEATURES],
  ])('`helm lint --strict` passes with no warning, with %s', async (_label, sets) => {
    const result = await helm([
      'lint',
      '--strict',
      chartDir,
      ...sets.flatMap((set) => ['--set', set]),
    ]);
    expect(result.stderr + result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  it('Chart.yaml pins apiVersion v2, version and appVersion 0.1.0, kubeVersion >=1.31', () => {
    const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<
      string,
      string
    >;
    expect(chart).toMatchObject({
      apiVersion: 'v2',
      name: 'palisade',
      version: '0.1.0',
      appVersion: '0.1.0',
      kubeVersion: '>=1.31.0-0',
    });
  });

  /** Paths of values.yaml (a.b.c) with whether the key, or an enclosing key, has a comment. */
  function valuePaths(): { path: string; documented: boolean; leaf: boolean }[] {
    const doc = parseDocument(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
    const out: { path: string; documented: boolean; leaf: boolean }[] = [];
    const walk = (node: Node | null, prefix: string, inherited: boolean): void => {
      if (!isMap(node)) return;
      node.items.forEach((pair, index) => {
        if (!isScalar(pair.key)) return;
        const path = prefix === '' ? String(pair.key.value) : `${prefix}.${String(pair.key.value)}`;
        // The yaml library attaches a comment line above the first key of a map to the map.
        const own =
          (pair.key.commentBefore ?? '') !== '' ||
          (index === 0 && (node.commentBefore ?? '') !== '');
        const leaf = !isMap(pair.value) || pair.value.items.length === 0;
        out.push({ path, documented: own || inherited, leaf });
        walk(pair.value as Node | null, path, own || inherited);
      });
    };
    walk(doc.contents as Node | null, '', false);
    return out;
  }

  it('every value in values.yaml has a comment (on it or on its enclosing block)', () => {
    const undocumented = valuePaths()
      .filter((p) => p.leaf && !p.documented)
      .map((p) => p.path);
    expect(undocumented).toEqual([]);
  });

  it('values.schema.json describes every value of values.yaml (no drift)', () => {
    type SchemaNode = { properties?: Record<string, SchemaNode>; additionalProperties?: unknown };
    const schema = JSON.parse(
      readFileSync(join(chartDir, 'values.schema.json'), 'utf8'),
    ) as SchemaNode;
    const missing = valuePaths()
      .map((p) => p.path)
      .filter((path) => {
        let node: SchemaNode | undefined = schema;
        for (const key of path.split('.')) {
          // Free-form maps (resources, nodeSelector, ...) end the walk: their keys are the user's.
          if (node?.properties === undefined) return node === undefined;
          node = node.properties[key];
        }
        return node === undefined;
      });
    expect(missing).toEqual([]);
  });

  it.each([
    ['tracing.sampleRatio=2', 'sampleRatio'],
    ['webhook.failurePolicy=Maybe', 'failurePolicy'],
    ['webhook.timeoutSeconds=60', 'timeoutSeconds'],
    ['operator.replicas=0', 'replicas'],
    ['sidecar.ports.inbound=70000', 'inbound'],
    ['redis.url=localhost:6379', 'url'],
    ['operator.replicaz=3', 'replicaz'],
  ])('values.schema.json refuses %s with a message naming %s', async (set, field) => {
    const result = await helm(['template', releaseName, chartDir, '--set', set]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(field);
  });
});

describe('rendering', () => {
  const namespace = 'palisade-system';

  it('with the defaults: the operator, its RBAC, Services, webhook, cert Secret; no options', async () => {
    const manifests = await render(namespace);
    const kinds = manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        'ClusterRole/palisade-palisade-system-operator',
        'ClusterRole/palisade-palisade-system-sidecar',
        'ClusterRoleBinding/palisade-palisade-system-operator',
        'ConfigMap/palisade-config',
        'Deployment/palisade-operator',
        'MutatingWebhookConfiguration/palisade-palisade-system',
        'PodDisruptionBudget/palisade-operator',
        'Role/palisade-operator',
        'RoleBinding/palisade-operator',
        'Secret/palisade-webhook-cert',
        'Service/palisade-metrics',
        'Service/palisade-webhook',
        'ServiceAccount/palisade-operator',
      ]),
    );
    for (const kind of ['ServiceMonitor', 'Certificate', 'Issuer']) {
      expect(findAll(manifests, kind)).toEqual([]);
    }
    expect(kinds).not.toContain('Deployment/palisade-redis');
    for (const m of manifests) {
      expect(m.metadata.labels).toMatchObject({
        'helm.sh/chart': 'palisade-0.1.0',
        'app.kubernetes.io/name': 'palisade',
        'app.kubernetes.io/instance': releaseName,
        'app.kubernetes.io/managed-by': 'Helm',
      });
    }
  });

  it('the operator Deployment: 2 replicas, leader election, probes, hardened, spread; PDB 1', async () => {
    const manifests = await render(namespace);
    const deployment = findOne<V1Deployment>(manifests, 'Deployment', 'palisade-operator');
    expect(deployment.spec?.replicas).toBe(2);
    const pod = deployment.spec?.template.spec;
    const container = pod?.containers[0];
    expect(container?.args).toEqual(
      expect.arrayContaining([
        '--leader-elect=true',
        '--leader-election-namespace=$(POD_NAMESPACE)',
        '--health-port=8080',
        '--webhook-port=9443',
      ]),
    );
    expect(container?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container?.ports).toEqual(
      expect.arrayContaining([
        { name: 'health', containerPort: 8080, protocol: 'TCP' },
        { name: 'webhook', containerPort: 9443, protocol: 'TCP' },
      ]),
    );
    expect(container?.resources?.requests).toBeDefined();
    expect(container?.resources?.limits).toBeDefined();
    expect(container?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod?.topologySpreadConstraints?.[0]?.topologyKey).toBe('kubernetes.io/hostname');
    expect(container?.image).toBe('palisade-operator:0.1.0');
    const pdb = findOne<V1PodDisruptionBudget>(manifests, 'PodDisruptionBudget');
    expect(pdb.spec?.minAvailable).toBe(1);
    expect(pdb.spec?.selector?.matchLabels).toEqual(deployment.spec?.selector.matchLabels);
  });

  it('with every option on: ServiceMonitor, cert-manager Certificate + CA injection, Redis', async () => {
    const manifests = await render(namespace, ALL_FEATURES);
    expect(findAll(manifests, 'ServiceMonitor')).toHaveLength(1);
    expect(findAll(manifests, 'Certificate')).toHaveLength(1);
    expect(findAll(manifests, 'Issuer')).toHaveLength(1);
    expect(findAll(manifests, 'Secret')).toEqual([]);
    findOne(manifests, 'Deployment', 'palisade-redis');
    findOne(manifests, 'Service', 'palisade-redis');
    const webhook = findOne<Manifest>(manifests, 'MutatingWebhookConfiguration');
    expect(webhook.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(
      `${namespace}/palisade-webhook-cert`,
    );
    const config = findOne<V1ConfigMap>(manifests, 'ConfigMap', 'palisade-config');
    const settings = parse(config.data?.['installation.yaml'] ?? '') as Record<string, unknown>;
    expect(settings).toMatchObject({
      redis: { url: `redis://palisade-redis.${namespace}.svc:6379` },
      tracing: { otlpEndpoint: 'http://otel-collector.observability:4318', sampleRatio: 0.5 },
      ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
    });
  });

  it('a changed value changes the operator pod template (helm upgrade rolls the operator)', async () => {
    const checksum = async (sets: readonly string[]) =>
      findOne<V1Deployment>(await render(namespace, sets), 'Deployment', 'palisade-operator').spec
        ?.template.metadata?.annotations?.['checksum/config'];
    const before = await checksum([]);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(await checksum(['sidecar.logLevel=debug'])).not.toBe(before);
  });
});

describe('policies', () => {
  const namespace = 'palisade-system';

  /** Every rule of every (Cluster)Role in both renders, named for the failure message. */
  async function allRules(): Promise<{ where: string; rule: V1PolicyRule }[]> {
    const out: { where: string; rule: V1PolicyRule }[] = [];
    for (const sets of [[], ALL_FEATURES]) {
      const manifests = await render(namespace, sets);
      for (const role of [
        ...findAll<V1ClusterRole & Manifest>(manifests, 'ClusterRole'),
        ...findAll<V1Role & Manifest>(manifests, 'Role'),
      ]) {
        for (const rule of role.rules ?? [])
          out.push({ where: `${role.kind}/${role.metadata.name}`, rule });
      }
    }
    return out;
  }

  it('RBAC has no `*` verb, resource, API group or resource name', async () => {
    const wildcards = (await allRules()).filter(({ rule }) =>
      [
        ...rule.verbs,
        ...(rule.resources ?? []),
        ...(rule.apiGroups ?? []),
        ...(rule.resourceNames ?? []),
      ].some((entry) => entry.includes('*')),
    );
    expect(wildcards).toEqual([]);
  });

  it('the operator cannot read or change Secrets or the webhook beyond the ones named by the chart', async () => {
    for (const { where, rule } of await allRules()) {
      if (!where.includes('operator')) continue;
      const resources = rule.resources ?? [];
      // `create` cannot be limited to a name, and reads or changes no existing object: the
      // per-namespace Raft Secret needs it alone (decision 0018).
      const createOnly = rule.verbs.length === 1 && rule.verbs[0] === 'create';
      if (resources.includes('secrets') && createOnly) expect(resources).toEqual(['secrets']);
      else if (
        resources.includes('secrets') ||
        resources.includes('mutatingwebhookconfigurations')
      ) {
        expect(rule.resourceNames?.length).toBe(1);
      }
      expect(rule.verbs).not.toContain('escalate');
      expect(rule.verbs).not.toContain('impersonate');
    }
  });

  it('every RBAC rule in the templates is commented with its reason', () => {
    const lines = readFileSync(join(chartDir, 'templates', 'rbac.yaml'), 'utf8').split('\n');
    const resourcesOf = (ruleStart: number): string | undefined =>
      lines.slice(ruleStart + 1, ruleStart + 6).find((l) => /^\s+resources:/.test(l));
    const starts = lines.flatMap((line, index) => (/^\s+- apiGroups:/.test(line) ? [index] : []));
    const uncommented = starts
      .filter((start, n) => {
        if (/^\s*#/.test(lines[start - 1] ?? '')) return false;
        // A rule split only to limit some verbs by name shares the comment of the rule above.
        const previous = starts[n - 1];
        return previous === undefined || resourcesOf(previous) !== resourcesOf(start);
      })
      .map((start) => `rbac.yaml:${start + 1}: ${lines[start] ?? ''}`);
    expect(starts.length).toBeGreaterThan(8);
    expect(uncommented).toEqual([]);
  });

  it('the webhook is fail-open, side-effect free, bounded, and skips the operator namespace', async () => {
    const manifests = await render(namespace);
    const config = findOne<V1MutatingWebhookConfiguration>(
      manifests,
      'MutatingWebhookConfiguration',
    );
    const webhooks = config.webhooks ?? [];
    expect(webhooks.map((w) => w.name)).toEqual([
      'pod.inject.palisade.dev',
      'namespace.inject.palisade.dev',
    ]);
    for (const webhook of webhooks) {
      expect(webhook).toMatchObject({
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        timeoutSeconds: 5,
        admissionReviewVersions: ['v1'],
      });
      expect(webhook.clientConfig.caBundle).toBeUndefined();
      expect(webhook.namespaceSelector?.matchExpressions).toContainEqual({
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: [namespace],
      });
    }
    const [byPod, byNamespace] = webhooks;
    expect(byPod?.objectSelector?.matchLabels).toEqual({ 'palisade.dev/inject': 'true' });
    expect(byNamespace?.namespaceSelector?.matchExpressions).toContainEqual({
      key: 'palisade.dev/inject',
      operator: 'In',
      values: ['true'],
    });
  });
});

describe('helm test and NOTES', () => {
  it('the `helm test` checker script is valid JavaScript for node', async () => {
    const manifests = await render('palisade-system');
    const script = findOne<V1ConfigMap>(manifests, 'ConfigMap', 'palisade-test').data?.[
      'check.mjs'
    ];
    expect(script).toContain("'palisade.dev/sidecar'");
    const dir = mkdtempSync(join(tmpdir(), 'palisade-chart-'));
    try {
      const file = join(dir, 'check.mjs');
      writeFileSync(file, script ?? '');
      const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the test pod and its hook objects are `helm test` hooks, deleted when they pass', async () => {
    const hooks = (await render('palisade-system')).filter(
      (m) => m.metadata.annotations?.['helm.sh/hook'] !== undefined,
    );
    expect(hooks.map((m) => m.kind).sort()).toEqual([
      'ConfigMap',
      'Namespace',
      'Pod',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'ServiceAccount',
    ]);
    for (const hook of hooks) {
      expect(hook.metadata.annotations?.['helm.sh/hook']).toBe('test');
      expect(hook.metadata.annotations?.['helm.sh/hook-delete-policy']).toContain('hook-succeeded');
    }
    const namespace = findOne<Manifest>(hooks, 'Namespace');
    expect(namespace.metadata.labels?.['palisade.dev/inject']).toBe('true');
  });
});

describe('kubectl apply --dry-run=server', () => {
  const namespace = withNamespace('chart');
  const createdStubs: string[] = [];
  let testNamespace: string | undefined;

  beforeAll(async () => {
    // The CRDs for real (dry-run of the helm test's RateLimitPolicy RBAC needs the group known),
    // as `helm install` would from crds/.
    await kubectlOk(['apply', '--server-side', '--force-conflicts', '-f', join(chartDir, 'crds')]);
    for (const stub of STUB_CRDS) {
      const name = `${stub.plural}.${stub.group}`;
      if ((await kubectl(['get', 'crd', name])).code === 0) continue;
      await kubectlOk(['create', '-f', '-'], stubCrd(stub));
      createdStubs.push(name);
    }
    const established = [
      ...['ratelimitpolicies', 'circuitbreakers', 'chaosexperiments', 'sagas'].map(
        (p) => `crd/${p}.palisade.dev`,
      ),
      ...STUB_CRDS.map((s) => `crd/${s.plural}.${s.group}`),
    ];
    await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...established]);
  }, 90_000);

  afterAll(async () => {
    if (testNamespace !== undefined)
      await kubectl(['delete', 'namespace', testNamespace, '--wait=false']);
    for (const name of createdStubs) await kubectl(['delete', 'crd', name, '--wait=false']);
  }, 60_000);

  it.each([
    ['the defaults', [] as readonly string[]],
    ['every option on', ALL_FEATURES],
  ])('every manifest rendered with %s is accepted', async (_label, sets) => {
    const manifests = await render(namespace.name, sets);
    // What other objects need to exist even in a dry run, created for real first: namespaces
    // (the helm test's) and service accounts (pods are checked against theirs).
    const prerequisites = manifests.filter(
      (m) => m.kind === 'Namespace' || m.kind === 'ServiceAccount',
    );
    for (const m of prerequisites) if (m.kind === 'Namespace') testNamespace = m.metadata.name;
    await kubectlOk(['apply', '-f', '-'], toYamlStream(prerequisites));
    const result = await kubectl(['apply', '--dry-run=server', '-f', '-'], {
      input: toYamlStream(manifests),
    });
    expect(result.stderr.replace(/^Warning: .*\n/gm, '')).toBe('');
    expect(result.code).toBe(0);
    const accepted = result.stdout.split('\n').filter((line) => line.endsWith('(server dry run)'));
    expect(accepted).toHaveLength(manifests.length);
  });

  it('the `helm test` checker runs with its RBAC and names what is missing (no operator here)', async () => {
    const manifests = await render(namespace.name);
    const hooks = manifests.filter((m) => m.metadata.annotations?.['helm.sh/hook'] === 'test');
    const setup = hooks.filter((m) => m.kind !== 'Pod' && m.kind !== 'ConfigMap');
    await kubectlOk(['apply', '-f', '-'], toYamlStream(setup));
    testNamespace = findOne<Manifest>(setup, 'Namespace').metadata.name;
    const script = findOne<V1ConfigMap>(hooks, 'ConfigMap').data?.['check.mjs'] ?? '';
    const checkerPod = findOne<V1Pod>(hooks, 'Pod');
    const env = Object.fromEntries(
      (checkerPod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? '']),
    );
    const token = await kubectlOk(['create', 'token', '-n', namespace.name, 'palisade-test']);
    const cluster = loadKubeConfig().getCurrentCluster();
    const server = new URL(cluster?.server ?? '');
    const ca =
      cluster?.caData !== undefined
        ? Buffer.from(cluster.caData, 'base64')
        : readFileSync(cluster?.caFile ?? '');
    const dir = mkdtempSync(join(tmpdir(), 'palisade-chart-'));
    try {
      writeFileSync(join(dir, 'check.mjs'), script);
      writeFileSync(join(dir, 'token'), token.trim());
      writeFileSync(join(dir, 'ca.crt'), ca);
      const run = spawnSync(process.execPath, [join(dir, 'check.mjs')], {
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          ...env,
          TIMEOUT_SECONDS: '20',
          SERVICE_ACCOUNT_DIR: dir,
          KUBERNETES_SERVICE_HOST: server.hostname,
          KUBERNETES_SERVICE_PORT: server.port === '' ? '443' : server.port,
        },
      });
      // It got as far as creating the pod in the test namespace (its Role allows it), and fails
      // where an operator is needed, saying so.
      expect(run.stderr).toContain('FAIL: the webhook did not inject the test pod');
      expect(run.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await kubectlOk(['get', '-n', testNamespace, 'pod/palisade-helm-test']);
  });

  it('the RateLimitPolicy example in NOTES.txt is accepted', async () => {
    const notes = readFileSync(join(chartDir, 'templates', 'NOTES.txt'), 'utf8');
    const example = /^( +)apiVersion: palisade\.dev\/v1alpha1\n(?:\1.*\n)+/m.exec(notes);
    expect(example).not.toBeNull();
    const indent = example?.[1] ?? '';
    const policy = (example?.[0] ?? '')
      .split('\n')
      .map((line) => line.slice(indent.length))
      .join('\n')
      .replaceAll('<your-app>', 'web');
    const out = await kubectlOk(
      ['apply', '--dry-run=server', '-n', namespace.name, '-f', '-'],
      policy,
    );
    expect(out).toContain('ratelimitpolicy.palisade.dev/api-guard created (server dry run)');
  });
});

/** A CRD accepting any spec, standing in for an integration's CRD the cluster does not have. */
function stubCrd(stub: (typeof STUB_CRDS)[number]): string {
  return JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${stub.plural}.${stub.group}`, labels: { 'palisade.dev/e2e': 'stub' } },
    spec: {
      group: stub.group,
      scope: 'Namespaced',
      names: { kind: stub.kind, plural: stub.plural, singular: stub.kind.toLowerCase() },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          },
        },
      ],
    },
  });
}
