// The sidecar's Kubernetes mode against the local control plane (e2e project): real
// `palisade-sidecar --kubernetes` processes watch the ConfigMaps of their namespace, which the
// test writes exactly as the operator does (`desiredConfigMap`), so both sides of decision 0008
// are held to the same names. No operator here: operator-sidecars.e2e.ts runs the whole path.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useSidecarHarness } from '../../sidecar/test/support/sidecar-harness.js';
import {
  send,
  startSidecarProcess,
  waitFor,
  type SidecarProcess,
} from '../../sidecar/test/support/sidecar-process.js';
import type { SharedSidecarConfig } from '../src/compiler/types.js';
import { desiredConfigMap, type ConfigMapObject } from '../src/reconcilers/config-map.js';
import {
  apiServerAddress,
  connectCluster,
  createNamespace,
  kubeconfigPath,
  kubeconfigVia,
  type Cluster,
} from './support/cluster.js';
import { startTcpProxy } from './support/tcp-proxy.js';

const namespace = `palisade-skc-${process.pid}`;
const { echo, defer } = useSidecarHarness();
let cluster: Cluster;
const scratch = mkdtempSync(join(tmpdir(), 'palisade-skc-'));

beforeAll(async () => {
  cluster = connectCluster();
  await createNamespace(cluster, namespace);
});

afterAll(async () => {
  await cluster.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
});

/** A shared config as the operator compiles it: a local limit of `requests` per minute. */
function configMapFor(
  hash: string,
  pods: string[],
  epoch: number,
  appPort: number,
  requests: number | null,
): ConfigMapObject {
  const config: SharedSidecarConfig = {
    version: hash,
    app: { host: '127.0.0.1', port: appPort },
    listeners: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
    ...(requests === null
      ? {}
      : {
          rateLimits: [
            {
              policy: `${namespace}/limits`,
              name: 'all',
              limit: { requests, period: '1m' },
              key: { type: 'global' },
              scope: 'local',
            },
          ],
        }),
  };
  return desiredConfigMap({ namespace, hash, config, json: JSON.stringify(config), pods }, epoch);
}

async function apply(cm: ConfigMapObject): Promise<void> {
  const { core } = cluster;
  const body = { ...cm, metadata: { ...cm.metadata } };
  try {
    const existing = await core.readNamespacedConfigMap({ namespace, name: cm.metadata.name });
    await core.replaceNamespacedConfigMap({
      namespace,
      name: cm.metadata.name,
      body: {
        ...body,
        metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion },
      },
    });
  } catch {
    await core.createNamespacedConfigMap({ namespace, body });
  }
}

async function remove(name: string): Promise<void> {
  await cluster.core.deleteNamespacedConfigMap({ namespace, name });
}

async function configVersion(sc: SidecarProcess): Promise<string> {
  return (JSON.parse((await sc.admin('/config')).body) as { version: string }).version;
}

async function sidecarFor(podName: string, appPort: number, kubeconfig = kubeconfigPath) {
  const sc = await startSidecarProcess({
    config: { version: 'unused', app: { host: '127.0.0.1', port: appPort } },
    kubernetes: { kubeconfig, namespace, podName },
  });
  defer(() => sc.stop());
  return sc;
}

/** Statuses of `n` requests through the inbound proxy. */
async function statuses(sc: SidecarProcess, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send(sc.ports.inbound)).status);
  return out;
}

describe('palisade-sidecar --kubernetes', () => {
  it('enforces the ConfigMap that lists its pod, follows changes and epochs, and falls back to no policy', async () => {
    const app = await echo();
    // Another pod's config exists from the start: it must be ignored.
    await apply(configMapFor('other0000000000', ['web-9'], 1, app.port, 1));
    const sc = await sidecarFor('web-1', app.port);
    expect(await configVersion(sc)).toBe('no-policy');
    expect(await statuses(sc, 3)).toEqual([200, 200, 200]);
    // The probe listener answers on a non-loopback bind, and only the read-only paths.
    const probe = sc.ports.probe as number;
    expect((await send(probe, { path: '/readyz' })).status).toBe(200);
    expect((await send(probe, { path: '/metrics' })).body).toContain('palisade_config_info');
    expect((await send(probe, { path: '/config' })).status).toBe(404);

    await apply(configMapFor('aaaa000000000000', ['web-1', 'web-2'], 10, app.port, 2));
    await waitFor('version aaaa', async () => (await configVersion(sc)) === 'aaaa000000000000');
    expect(await statuses(sc, 3)).toEqual([200, 200, 429]);

    // The pod moves to a new object (larger epoch) before the old one drops it: the new wins.
    await apply(configMapFor('bbbb000000000000', ['web-1'], 20, app.port, 50));
    await waitFor('version bbbb', async () => (await configVersion(sc)) === 'bbbb000000000000');
    expect(await statuses(sc, 3)).toEqual([200, 200, 200]);
    // An older epoch listing the pod does not take it back.
    await apply(configMapFor('aaaa000000000000', ['web-1', 'web-2'], 15, app.port, 2));

    // A broken object: refused, the last good config stays, /healthz says so.
    const broken = configMapFor('cccc000000000000', ['web-1'], 30, app.port, 1);
    broken.data = { ...broken.data, 'config.json': '{"version": "cccc", "app": ' };
    const refusedBefore = (await sc.metric('palisade_config_reload_errors_total')) ?? 0;
    await apply(broken);
    await waitFor(
      'the refusal',
      async () => (await sc.metric('palisade_config_reload_errors_total')) === refusedBefore + 1,
    );
    expect(await configVersion(sc)).toBe('bbbb000000000000');
    const health = JSON.parse((await sc.admin('/healthz')).body) as {
      status: string;
      config: { lastFailure: { code: string; message: string } };
    };
    expect(health.status).toBe('warn');
    expect(health.config.lastFailure.code).toBe('CONFIG_PARSE_FAILED');
    expect(health.config.lastFailure.message).toContain(
      `configmap ${namespace}/palisade-config-cccc000000000000`,
    );

    // Every object listing the pod gone: no policy.
    for (const hash of ['aaaa000000000000', 'bbbb000000000000', 'cccc000000000000'])
      await remove(`palisade-config-${hash}`);
    await waitFor('no policy', async () => (await configVersion(sc)) === 'no-policy');
    expect(await statuses(sc, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(sc.logs().some((l) => l.msg === 'config map selected' && l['epoch'] === 20)).toBe(true);
  }, 90_000);

  it('keeps its config while the API server is away, stays ready, and catches up when it is back', async () => {
    const app = await echo();
    const proxy = await startTcpProxy(apiServerAddress());
    defer(() => proxy.close());
    const kubeconfig = kubeconfigVia(proxy.port, join(scratch, 'via-proxy.kubeconfig'));
    await apply(configMapFor('dddd000000000000', ['away-1'], 10, app.port, 1));
    const sc = await sidecarFor('away-1', app.port, kubeconfig);
    expect(await configVersion(sc)).toBe('dddd000000000000');

    await proxy.cut();
    await waitFor(
      'the watch failure to be logged',
      () => sc.logs().some((l) => l.msg === 'ConfigMap watch failed; keeping the config in force'),
      20_000,
    );
    expect(await configVersion(sc)).toBe('dddd000000000000');
    expect((await sc.admin('/readyz')).status).toBe(200);
    expect(await statuses(sc, 2)).toEqual([200, 429]);
    // Changed while the sidecar cannot see it.
    await apply(configMapFor('eeee000000000000', ['away-1'], 20, app.port, 100));

    await proxy.restore();
    // Retries back off up to 30 s; the first few are well under that.
    await waitFor(
      'the change made during the outage',
      async () => (await configVersion(sc)) === 'eeee000000000000',
      30_000,
    );
  }, 90_000);

  it('without any list at start (API server unreachable), runs with no policy and is not ready until it lists', async () => {
    const app = await echo();
    const proxy = await startTcpProxy(apiServerAddress());
    defer(() => proxy.close());
    const kubeconfig = kubeconfigVia(proxy.port, join(scratch, 'late.kubeconfig'));
    await proxy.cut();
    await apply(configMapFor('ffff000000000000', ['late-1'], 10, app.port, 1));
    const sc = await startSidecarProcess({
      config: { version: 'unused', app: { host: '127.0.0.1', port: app.port } },
      kubernetes: { kubeconfig, namespace, podName: 'late-1' },
      // Start-up waits up to 10 s for the first list before serving.
      startTimeoutMs: 40_000,
    });
    defer(() => sc.stop());
    expect(await configVersion(sc)).toBe('no-policy');
    const notReady = await sc.admin('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toContain('kubernetes');
    await proxy.restore();
    await waitFor(
      'the config once listed',
      async () => (await configVersion(sc)) === 'ffff000000000000',
      40_000,
    );
    expect((await sc.admin('/readyz')).status).toBe(200);
  }, 120_000);
});
