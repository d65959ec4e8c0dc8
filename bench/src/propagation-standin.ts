/**
 * Worker of bench:propagation (forked with IPC): runs many sidecar stand-ins in one process.
 * Each stand-in is what a Kubernetes-mode sidecar does for config, with the same modules:
 * its own ConfigMap client (its own API connection and watch), a `KubeConfigSource` for its pod,
 * and a `ConfigStore` (validation, hashing, swap) — no proxy, no admin API. It reports the time
 * each new config is applied. It also keeps, per stand-in, one plain client-node watch on a
 * plain ConfigMap: the baseline (raw API-server watch delivery to the same number of watchers).
 */
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { ConfigStore, validateConfigDocument } from '../../sidecar/dist/config/index.js';
import {
  KubeConfigSource,
  createKubeConfigMapClient,
  noPolicyDocument,
} from '../../sidecar/dist/kube-config/index.js';
import { systemRandom } from '../../sidecar/dist/core/random.js';

/** Parent → worker. */
export interface StartMessage {
  readonly type: 'start';
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly pods: readonly string[];
  /** Name of the plain ConfigMap the baseline watches. */
  readonly baselineName: string;
}

/** Worker → parent. */
export type WorkerMessage =
  /** A config was applied by a stand-in's store (`limit`: its first rate limit, or null). */
  | { type: 'applied'; pod: string; version: string; limit: number | null; at: number }
  /** The baseline watch of a stand-in saw the plain ConfigMap with `value`. */
  | { type: 'baseline'; pod: string; value: string; at: number }
  | { type: 'started'; pods: number }
  | { type: 'error'; message: string };

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();

const send = (message: WorkerMessage): void => {
  process.send?.(message);
};

async function startStandIn(start: StartMessage, pod: string): Promise<void> {
  const identity = { podName: pod, appPort: 8080, listeners: {} };
  const store = new ConfigStore({
    initial: validateConfigDocument(noPolicyDocument(identity), 'no-policy'),
  });
  const client = await createKubeConfigMapClient({
    kubeconfigPath: start.kubeconfig,
    namespace: start.namespace,
    random: systemRandom,
  });
  const source = new KubeConfigSource({
    client,
    namespace: start.namespace,
    pod: identity,
    random: systemRandom,
    onDecision: (decision) => {
      if (decision.kind === 'invalid') {
        send({ type: 'error', message: `${pod}: ${decision.error.message}` });
        return;
      }
      void store.apply(decision.document, decision.source).then((result) => {
        if (result.status !== 'applied') return;
        const config = result.snapshot.config;
        send({
          type: 'applied',
          pod,
          version: config.version,
          limit: config.rateLimits[0]?.limit.requests ?? null,
          at: now(),
        });
      });
    },
  });
  await source.start(60_000);

  const kc = new KubeConfig();
  kc.loadFromFile(start.kubeconfig);
  await new Watch(kc).watch(
    `/api/v1/namespaces/${start.namespace}/configmaps`,
    { fieldSelector: `metadata.name=${start.baselineName}` },
    (type: string, object: { data?: { value?: string } }) => {
      if (type === 'MODIFIED' || type === 'ADDED')
        send({ type: 'baseline', pod, value: object.data?.value ?? '', at: now() });
    },
    (error: unknown) => {
      if (error !== null && error !== undefined)
        send({ type: 'error', message: `${pod} baseline watch: ${String(error)}` });
    },
  );
}

process.on('message', (message: StartMessage) => {
  if (message.type !== 'start') return;
  // Start in small batches: a thousand TLS handshakes at once only measure the handshakes.
  void (async () => {
    for (let i = 0; i < message.pods.length; i += 10) {
      await Promise.all(message.pods.slice(i, i + 10).map((pod) => startStandIn(message, pod)));
    }
    send({ type: 'started', pods: message.pods.length });
  })().catch((error: unknown) => send({ type: 'error', message: String(error) }));
});
process.on('disconnect', () => process.exit(0));
// A clean exit, so that `--cpu-prof` (PROP_BENCH_PROFILE) writes its profile.
process.on('SIGTERM', () => process.exit(0));
