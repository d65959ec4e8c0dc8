// RedisUnavailable on the local control plane (e2e project; `npx tsc -b` first): the real
// operator process checks the installation's Redis (a real redis-server the test starts, kills
// and restarts) for a RateLimitPolicy with a global rule, and says so in the Ready condition.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GROUP, VERSION } from '@palisade/crds';
import { startRedisServer, type RedisServer } from '../../sidecar/test/support/redis-server.js';
import { waitFor } from '../../sidecar/test/support/sidecar-process.js';
import {
  connectCluster,
  createInjectedPod,
  createNamespace,
  kubeconfigPath,
  type Cluster,
} from './support/cluster.js';
import { startNamespacedOperator, type OperatorProcess } from './support/operator-process.js';

const namespace = `palisade-redis-${process.pid}`;
const rlpPath = { group: GROUP, version: VERSION, namespace, plural: 'ratelimitpolicies' };
let cluster: Cluster;
let redis: RedisServer | undefined;
let operator: OperatorProcess | undefined;

beforeAll(async () => {
  cluster = connectCluster();
  await createNamespace(cluster, namespace);
});

afterAll(async () => {
  operator?.kill('SIGKILL');
  await operator?.exited;
  await redis?.stop();
  await cluster.core.deleteNamespace({ name: namespace }).catch(() => undefined);
});

async function ready(): Promise<{ status: string; reason: string; message: string } | undefined> {
  const policy = (await cluster.custom.getNamespacedCustomObject({
    ...rlpPath,
    name: 'global',
  })) as {
    status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
  };
  return policy.status?.conditions?.find((c) => c.type === 'Ready');
}

describe('RedisUnavailable', () => {
  it('follows the installation Redis going away and coming back', async () => {
    redis = await startRedisServer();
    await createInjectedPod(cluster, namespace, {
      name: 'web-1',
      labels: { app: 'web' },
      ip: '10.244.8.1',
      appPort: 8080,
    });
    operator = startNamespacedOperator('redis-operator', kubeconfigPath, namespace, [
      '--redis-url',
      redis.url,
    ]);
    await cluster.custom.createNamespacedCustomObject({
      ...rlpPath,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'RateLimitPolicy',
        metadata: { name: 'global' },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          rules: [
            {
              name: 'all',
              limit: { requests: 5, period: '1m' },
              key: { type: 'global' },
              scope: 'global',
            },
          ],
          failureMode: 'closed',
        },
      },
    });
    await waitFor('Enforced', async () => (await ready())?.reason === 'Enforced', 30_000, 200);

    await redis.kill();
    // Checked at most every 10 s (the policy is requeued that often while it needs Redis).
    const down = await waitFor(
      'RedisUnavailable',
      async () => {
        const c = await ready();
        return c?.reason === 'RedisUnavailable' ? c : undefined;
      },
      30_000,
      200,
    );
    expect(down.status).toBe('False');
    expect(down.message).toContain(`127.0.0.1:${redis.port}`);
    expect(down.message).toContain('failureMode closed');

    await redis.restart();
    await waitFor(
      'Enforced again',
      async () => (await ready())?.reason === 'Enforced',
      30_000,
      200,
    );
  }, 120_000);
});
