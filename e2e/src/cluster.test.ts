// The cluster under test is a real, working Kubernetes control plane: the API server is ready,
// namespaces go through their whole life cycle (the namespace controller finalizes deletions),
// the controller manager's service-account controller runs, service-account tokens authenticate
// under RBAC, ValidatingAdmissionPolicy is enforced, and kubectl talks to it.
import { describe, expect, test } from '@jest/globals';
import { AuthenticationV1Api, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import {
  clusterPaths,
  deleteNamespaceAndWait,
  e2eTarget,
  isApiStatus,
  kubectl,
  loadKubeConfig,
  waitFor,
  withNamespace,
} from './support/index.js';

describe('local control plane', () => {
  const namespace = withNamespace('cluster');

  test('the API server answers /readyz with ok through kubectl', async () => {
    const result = await kubectl(['get', '--raw', '/readyz']);
    expect(result).toMatchObject({ code: 0, stdout: 'ok' });
  });

  test('the API server reports a real Kubernetes release (the pinned one when local)', async () => {
    const version = await loadKubeConfig().makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    if (e2eTarget() === 'local') expect(version.gitVersion).toBe(clusterPaths().kubernetesVersion);
  });

  test('a namespace can be created, listed and deleted to completion', async () => {
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    const name = `e2e-lifecycle-${randomBytes(4).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name } } });
    try {
      const listed = await core.listNamespace();
      expect(listed.items.map((item) => item.metadata?.name)).toContain(name);
    } finally {
      await deleteNamespaceAndWait(core, name);
    }
    const afterDeletion = await core.readNamespace({ name }).then(
      () => 'still there',
      (error: unknown) => (isApiStatus(error, 404) ? 'not found' : error),
    );
    expect(afterDeletion).toBe('not found');
  }, 150_000);

  test('the controller manager creates the default service account in a new namespace', async () => {
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    const account = await waitFor(
      async () => {
        try {
          return await core.readNamespacedServiceAccount({
            name: 'default',
            namespace: namespace.name,
          });
        } catch (error) {
          if (isApiStatus(error, 404)) return undefined;
          throw error;
        }
      },
      { what: `serviceaccount default in ${namespace.name}`, timeoutMs: 30_000 },
    );
    expect(account.metadata?.namespace).toBe(namespace.name);
  }, 40_000);

  test('kubectl applies a manifest from standard input into the test namespace', async () => {
    const manifest = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: e2e-probe',
      'data:',
      '  greeting: hello',
    ].join('\n');
    const applied = await kubectl(['apply', '-n', namespace.name, '-f', '-'], { input: manifest });
    expect(applied).toMatchObject({ code: 0, stdout: 'configmap/e2e-probe created\n' });
    const read = await kubectl([
      'get',
      'configmap',
      'e2e-probe',
      '-n',
      namespace.name,
      '-o',
      'jsonpath={.data.greeting}',
    ]);
    expect(read).toMatchObject({ code: 0, stdout: 'hello' });
  });

  test('kubectl reports a refused request with a non-zero exit and the reason', async () => {
    const result = await kubectl(['get', 'configmap', 'does-not-exist', '-n', namespace.name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('configmaps "does-not-exist" not found');
  });

  test('a service-account token authenticates as the account and RBAC limits it', async () => {
    const created = await kubectl(['create', 'token', 'default', '-n', namespace.name]);
    expect(created.code).toBe(0);
    const admin = loadKubeConfig();
    const cluster = admin.getCurrentCluster();
    if (cluster === null) throw new Error('the e2e kubeconfig has no current cluster');
    const asAccount = new KubeConfig();
    asAccount.loadFromClusterAndUser(cluster, { name: 'e2e-sa', token: created.stdout.trim() });
    const review = await asAccount
      .makeApiClient(AuthenticationV1Api)
      .createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(
      `system:serviceaccount:${namespace.name}:default`,
    );
    const listSecrets = await asAccount
      .makeApiClient(CoreV1Api)
      .listNamespacedSecret({ namespace: namespace.name })
      .then(
        () => 'allowed',
        (error: unknown) => (isApiStatus(error, 403) ? 'forbidden' : error),
      );
    expect(listSecrets).toBe('forbidden');
  }, 40_000);

  test('a ValidatingAdmissionPolicy refuses what it forbids, naming the reason', async () => {
    const policy = `e2e-${namespace.name}`;
    const manifests = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: ${policy} }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [configmaps]
  validations:
    - expression: "!has(object.data) || !('forbidden' in object.data)"
      message: configmap data may not hold a key named forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: ${policy} }
spec:
  policyName: ${policy}
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: { kubernetes.io/metadata.name: ${namespace.name} }
`;
    const forbidden = `apiVersion: v1
kind: ConfigMap
metadata: { name: e2e-forbidden, namespace: ${namespace.name} }
data: { forbidden: "yes" }
`;
    expect(await kubectl(['apply', '-f', '-'], { input: manifests })).toMatchObject({ code: 0 });
    try {
      // The policy takes effect once the API server's admission informer has seen it; a
      // server-side dry run goes through admission without storing anything.
      const refusal = await waitFor(
        async () => {
          const result = await kubectl(['create', '--dry-run=server', '-f', '-'], {
            input: forbidden,
          });
          return result.code === 0 ? undefined : result;
        },
        { what: `policy ${policy} to take effect`, timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(refusal.stderr).toContain('configmap data may not hold a key named forbidden');
      const allowed = await kubectl(['create', '--dry-run=server', '-f', '-'], {
        input: forbidden.replace('forbidden: "yes"', 'permitted: "yes"'),
      });
      expect(allowed).toMatchObject({ code: 0 });
    } finally {
      await kubectl([
        'delete',
        'validatingadmissionpolicybinding,validatingadmissionpolicy',
        policy,
        '--ignore-not-found',
      ]);
    }
  }, 60_000);
});
