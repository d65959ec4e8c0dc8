/**
 * CPU one sidecar spends on one policy change, without a cluster: what bench:propagation's
 * stand-ins pay per sidecar, step by step. The operator's own compiler and ConfigMap writer build
 * the delivered objects for a workload of N pods (one RateLimitPolicy selecting all of them, as
 * in bench:propagation); a `KubeConfigSource` with a `ConfigStore` then receives what its watch
 * receives for a change — the API server's event lines for ADDED (the new object) and DELETED
 * (the old one) — through a scripted `ConfigMapClient`. Reported: CPU per change for the whole
 * path, and for each step run alone. Sizes: PROP_MICRO_SIZES (default 100,1000).
 * Run: `npx tsc -b && node bench/dist/propagation-micro.js`.
 */
import { compileSidecarConfigs, type PodInfo } from '../../operator/dist/compiler/index.js';
import { desiredConfigMap } from '../../operator/dist/reconcilers/config-map.js';
import {
  ConfigStore,
  diffConfig,
  parseConfigText,
  validateConfigDocument,
} from '../../sidecar/dist/config/index.js';
import {
  KubeConfigSource,
  noPolicyDocument,
  type ConfigMapClient,
} from '../../sidecar/dist/kube-config/index.js';

const sizes = (process.env['PROP_MICRO_SIZES'] ?? '100,1000').split(',').map(Number);
const NAMESPACE = 'bench';
const installation = {
  ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
  app: { host: '127.0.0.1', defaultPort: 8080 },
};

/** Stands for the epoch and resourceVersion in the event lines; each round puts its own. */
const STAMP = 987654321;

/** What the operator compiles for the bench's namespace: N pods of one workload, one policy. */
function compileInput(n: number, limit: number) {
  const pods: PodInfo[] = Array.from({ length: n }, (_, i) => ({
    namespace: NAMESPACE,
    name: `app-${String(i).padStart(4, '0')}`,
    labels: { app: 'prop' },
    annotations: { 'palisade.dev/app-port': '8080' },
    creationTimestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    ready: true,
    podIP: `10.250.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  }));
  const policy = {
    namespace: NAMESPACE,
    name: 'prop',
    creationTimestamp: '2026-01-01T00:00:00Z',
    spec: {
      selector: { matchLabels: { app: 'prop' } },
      rules: [
        {
          name: 'all',
          limit: { requests: limit, period: '1m' },
          key: { type: 'global' as const },
          scope: 'local' as const,
        },
      ],
    },
  };
  return {
    pods,
    policies: { rateLimits: [policy], circuitBreakers: [], chaos: [], sagas: [] },
    installation,
  };
}

/** The watch event lines one change sends every sidecar: the new object added, the old deleted. */
function changeLines(n: number, limit: number) {
  const { configs } = compileSidecarConfigs(compileInput(n, limit));
  const compiled = configs[0];
  if (configs.length !== 1 || compiled === undefined) throw new Error('expected one config');
  const object = desiredConfigMap(compiled, STAMP);
  const withVersion = {
    ...object,
    metadata: { ...object.metadata, resourceVersion: String(STAMP) },
  };
  return {
    added: JSON.stringify({ type: 'ADDED', object: withVersion }),
    deleted: JSON.stringify({ type: 'DELETED', object: withVersion }),
    configText: compiled.json,
  };
}

/** CPU microseconds per call of `step` over `rounds` calls (after as many to warm up). */
function cpuPerCall(rounds: number, step: (round: number) => void): number {
  for (let i = 0; i < rounds; i++) step(i);
  const start = process.cpuUsage();
  for (let i = 0; i < rounds; i++) step(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / rounds;
}

async function measure(n: number): Promise<void> {
  // Two configs the change alternates between (limit 101 ↔ 102), so every round is a change.
  const versions = [changeLines(n, 101), changeLines(n, 102)];
  const pod = { podName: `app-${String(Math.floor(n / 2)).padStart(4, '0')}`, appPort: 8080 };
  const identity = { ...pod, listeners: {} };
  const store = new ConfigStore({
    initial: validateConfigDocument(noPolicyDocument(identity), 'no-policy'),
  });
  let deliver: (type: string, object: unknown) => void = () => undefined;
  let watching!: () => void;
  const opened = new Promise<void>((resolve) => (watching = resolve));
  const client: ConfigMapClient = {
    list: () => Promise.resolve({ items: [], resourceVersion: '1' }),
    watch: (_version, onEvent, onDone) => {
      deliver = onEvent;
      watching();
      return Promise.resolve({ abort: () => onDone(null) });
    },
  };
  let applied = 0;
  let pending: Promise<unknown> = Promise.resolve();
  const source = new KubeConfigSource({
    client,
    namespace: NAMESPACE,
    pod: identity,
    random: { next: () => 0.5 },
    onDecision: (decision) => {
      if (decision.kind === 'invalid') throw decision.error;
      pending = store.apply(decision.document, decision.source).then((result) => {
        if (result.status === 'applied') applied++;
      });
    },
  });
  await source.start(1000);
  await opened;
  const receive = (line: string) => {
    const event = JSON.parse(line) as { type: string; object: unknown };
    deliver(event.type, event.object);
  };
  // Each change: the new object arrives with a larger epoch and resourceVersion, then the old
  // one is deleted.
  const lines = (round: number) => {
    const next = versions[round % 2] as ReturnType<typeof changeLines>;
    const previous = versions[(round + 1) % 2] as ReturnType<typeof changeLines>;
    return {
      added: next.added.replaceAll(String(STAMP), String(100 + 2 * round)),
      deleted: previous.deleted.replaceAll(String(STAMP), String(99 + 2 * round)),
    };
  };
  const rounds = n >= 1000 ? 200 : 1000;
  const prepared = Array.from({ length: 2 * rounds }, (_, i) => lines(i));
  let round = 0;
  const whole = async () => {
    const start = process.cpuUsage();
    for (let i = 0; i < rounds; i++) {
      const { added, deleted } = prepared[round++] as { added: string; deleted: string };
      receive(added);
      await pending;
      receive(deleted);
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / rounds;
  };
  await whole(); // warm-up
  const appliedBefore = applied;
  const perChange = await whole();
  if (applied - appliedBefore !== rounds)
    throw new Error(`applied ${applied - appliedBefore} of ${rounds}`);
  await source.stop();

  // The steps alone, on the same objects.
  const text = (versions[0] as ReturnType<typeof changeLines>).configText;
  const documents = versions.map((v) => parseConfigText(v.configText, 'json'));
  const perPod = (document: unknown) => ({
    ...(document as object),
    raft: { ...(document as { raft: object }).raft, id: pod.podName },
  });
  const resolved = documents.map((d) => validateConfigDocument(perPod(d)));
  const [a, b] = resolved as [(typeof resolved)[0], (typeof resolved)[0]];
  const steps = {
    'watch event JSON.parse (ADDED + DELETED)': cpuPerCall(rounds, () => {
      JSON.parse((versions[0] as ReturnType<typeof changeLines>).added);
      JSON.parse((versions[1] as ReturnType<typeof changeLines>).deleted);
    }),
    'config.json parse': cpuPerCall(rounds, () => parseConfigText(text, 'json')),
    'validate (nothing in force)': cpuPerCall(rounds, (i) =>
      validateConfigDocument(perPod(documents[i % 2])),
    ),
    'validate against the config in force': cpuPerCall(rounds, (i) =>
      validateConfigDocument(perPod(documents[i % 2]), 'next', i % 2 === 0 ? b : a),
    ),
    'diffConfig (peer lists not shared)': cpuPerCall(rounds, (i) =>
      diffConfig(i % 2 === 0 ? a : b, i % 2 === 0 ? b : a),
    ),
  };
  const input = compileInput(n, 101);
  const compileUs = cpuPerCall(20, () => compileSidecarConfigs(input));
  const kb = (s: string) => `${(Buffer.byteLength(s) / 1024).toFixed(1)} KiB`;
  const v0 = versions[0] as ReturnType<typeof changeLines>;
  console.log(
    `${n} pods: ${(perChange / 1000).toFixed(2)} ms CPU per sidecar per change (event ${kb(v0.added)}, config.json ${kb(v0.configText)})`,
  );
  for (const [name, us] of Object.entries(steps))
    console.log(`  ${name.padEnd(42)} ${(us / 1000).toFixed(3)} ms`);
  console.log(
    `  ${'operator: one compile of the namespace'.padEnd(42)} ${(compileUs / 1000).toFixed(3)} ms`,
  );
}

for (const n of sizes) await measure(n);
