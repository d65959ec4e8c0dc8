// The cluster under test is a real, working Kubernetes control plane: the API server is ready,
// namespaces go through their whole life cycle (the namespace controller finalizes deletions),
// the controller manager's service-account controller runs, and kubectl talks to it.
import { describe, expect, test } from '@jest/globals';
import { CoreV1Api, VersionApi } from '@kubernetes/client-node';
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
});
