// The local control plane as e2e files see it: the admin kubeconfig (exported by the jest global
// setup as PALISADE_KUBECONFIG), API clients, and a namespace per test file that is removed
// afterwards. Pods made here stay off the node: tests write their status themselves.
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  APP_PORT_ANNOTATION,
  SIDECAR_LABEL,
  SIDECAR_LABEL_VALUE,
} from '../../src/informer/pod-info.js';

/** The admin kubeconfig of the cluster under test. */
export const kubeconfigPath =
  process.env['PALISADE_KUBECONFIG'] ??
  join(homedir(), '.cache', 'palisade', 'cluster', 'admin.kubeconfig');

/** Clients of the cluster under test. */
export interface Cluster {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
}

/** A scheduler name no scheduler answers to: pods that name it stay off every node. */
const UNSCHEDULED = 'palisade-test-unscheduled';

/** Loads the admin kubeconfig and builds the clients. */
export function connectCluster(): Cluster {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

/** Creates `name` with its default ServiceAccount (no controller-manager may make it). */
export async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  await cluster.core.createNamespace({ body: { metadata: { name } } });
  await cluster.core
    .createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } })
    .catch(() => undefined);
}

/**
 * Creates a pod as the webhook would have left it (label `palisade.dev/sidecar=injected`, the
 * app-port annotation) and marks it Ready with `ip`, as a kubelet would. Its scheduler does not
 * exist, so the local node never runs it and never overwrites the status written here (the test
 * runs the pod's sidecar as a local process on `ip`).
 */
export async function createInjectedPod(
  cluster: Cluster,
  namespace: string,
  pod: { name: string; labels: Record<string, string>; ip: string; appPort?: number },
): Promise<void> {
  await cluster.core.createNamespacedPod({
    namespace,
    body: {
      metadata: {
        name: pod.name,
        namespace,
        labels: { ...pod.labels, [SIDECAR_LABEL]: SIDECAR_LABEL_VALUE },
        ...(pod.appPort === undefined
          ? {}
          : { annotations: { [APP_PORT_ANNOTATION]: String(pod.appPort) } }),
      },
      spec: {
        automountServiceAccountToken: false,
        schedulerName: UNSCHEDULED,
        containers: [{ name: 'app', image: 'registry.invalid/app:1' }],
      },
    },
  });
  await cluster.core.patchNamespacedPodStatus(
    {
      namespace,
      name: pod.name,
      body: {
        status: {
          podIP: pod.ip,
          podIPs: [{ ip: pod.ip }],
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date() }],
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** A copy of the admin kubeconfig whose server is `https://127.0.0.1:<port>` (e.g. a proxy). */
export function kubeconfigVia(port: number, path: string): string {
  const text = readFileSync(kubeconfigPath, 'utf8').replace(
    /server: https:\/\/127\.0\.0\.1:[0-9]+/,
    `server: https://127.0.0.1:${port}`,
  );
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** host:port of the API server in the admin kubeconfig. */
export function apiServerAddress(): { host: string; port: number } {
  const match = /server: https:\/\/([0-9.]+):([0-9]+)/.exec(readFileSync(kubeconfigPath, 'utf8'));
  if (match === null) throw new Error(`no https://<ip>:<port> server in ${kubeconfigPath}`);
  return { host: match[1] as string, port: Number(match[2]) };
}
