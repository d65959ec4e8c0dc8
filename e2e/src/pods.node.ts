// Real pods on the local node (issue 7; e2e/cluster/node-up.sh): a 3-replica Deployment of the
// locally built test app (e2e/images/echo) behind a Service. Its pods become Ready and answer, from
// another pod, by pod IP, by ClusterIP (kube-proxy) and by DNS name (CoreDNS); a deleted pod is
// replaced; `kubectl logs` and `kubectl exec` work. It needs a Ready node and the local target
// (the image exists only in the local node's containerd), so it runs in the e2e-node jest project
// (`make e2e` runs it; the global setup brings the node up unless PALISADE_NODE=0).
import { beforeAll, describe, expect, test } from '@jest/globals';
import {
  e2eTarget,
  echoContainer,
  echoDeployment,
  kubectl,
  waitFor,
  withNamespace,
} from './support/index.js';

const REPLICAS = 3;

async function hasReadyNode(): Promise<boolean> {
  if (e2eTarget() !== 'local') return false;
  const result = await kubectl([
    'get',
    'nodes',
    '-o',
    'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
  ]);
  return result.code === 0 && result.stdout.split(' ').includes('True');
}

beforeAll(async () => {
  if (!(await hasReadyNode())) {
    throw new Error('no Ready node: run `make e2e-node` (or `make node-up` first)');
  }
}, 30_000);

function manifests(namespace: string): string {
  const objects = [
    echoDeployment(namespace, REPLICAS, { app: 'echo' }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo', namespace },
      spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace, labels: { app: 'client' } },
      spec: { terminationGracePeriodSeconds: 1, containers: [echoContainer()] },
    },
  ];
  return objects.map((object) => JSON.stringify(object)).join('\n---\n');
}

interface PodInfo {
  readonly name: string;
  readonly ip: string;
  readonly ready: boolean;
}

async function echoPods(namespace: string): Promise<PodInfo[]> {
  const result = await kubectl(['-n', namespace, 'get', 'pods', '-l', 'app=echo', '-o', 'json']);
  if (result.code !== 0) throw new Error(result.stderr);
  const list = JSON.parse(result.stdout) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status: { podIP?: string; conditions?: { type: string; status: string }[] };
    }[];
  };
  return list.items
    .filter((item) => item.metadata.deletionTimestamp === undefined)
    .map((item) => ({
      name: item.metadata.name,
      ip: item.status.podIP ?? '',
      ready: (item.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    }));
}

async function allReady(namespace: string): Promise<PodInfo[]> {
  return waitFor(
    async () => {
      const pods = await echoPods(namespace);
      return pods.length === REPLICAS && pods.every((pod) => pod.ready) ? pods : undefined;
    },
    { what: `${REPLICAS} echo pods Ready`, timeoutMs: 90_000, intervalMs: 500 },
  );
}

/** GETs `url` from inside the client pod (node's fetch) and returns the body, trimmed. */
async function fetchFromClient(namespace: string, url: string): Promise<string> {
  const script =
    `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(5000) })` +
    '.then((r) => r.text()).then((t) => process.stdout.write(t))' +
    '.catch((e) => { console.error(String(e.cause ?? e)); process.exit(1); })';
  const result = await kubectl(['-n', namespace, 'exec', 'client', '--', 'node', '-e', script]);
  if (result.code !== 0) throw new Error(`fetch ${url} from the client pod: ${result.stderr}`);
  return result.stdout.trim();
}

describe('pods on the local node', () => {
  const namespace = withNamespace('pods');

  test('a 3-replica Deployment becomes Ready and its pods answer by pod IP', async () => {
    const applied = await kubectl(['apply', '-f', '-'], { input: manifests(namespace.name) });
    expect(applied.code).toBe(0);
    const pods = await allReady(namespace.name);
    await waitFor(
      async () => {
        const client = await kubectl([
          '-n',
          namespace.name,
          'get',
          'pod',
          'client',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return client.stdout === 'True' ? true : undefined;
      },
      { what: 'client pod Ready', timeoutMs: 60_000, intervalMs: 500 },
    );
    for (const pod of pods) {
      expect(await fetchFromClient(namespace.name, `http://${pod.ip}:8080/`)).toBe(pod.name);
    }
  }, 180_000);

  test('the Service answers by ClusterIP and by DNS name', async () => {
    const names = new Set((await echoPods(namespace.name)).map((pod) => pod.name));
    const service = await kubectl([
      '-n',
      namespace.name,
      'get',
      'service',
      'echo',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]);
    expect(service.stdout).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const urls = [
      `http://${service.stdout}/`,
      `http://echo.${namespace.name}.svc.cluster.local/`,
      `http://echo/`,
    ];
    for (const url of urls) {
      const answer = await waitFor(
        async () => {
          const body = await fetchFromClient(namespace.name, url);
          return names.has(body) ? body : undefined;
        },
        { what: `an echo pod answering ${url}`, timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(names).toContain(answer);
    }
  }, 120_000);

  test('kubectl logs shows the app output', async () => {
    const [pod] = await echoPods(namespace.name);
    const logs = await kubectl(['-n', namespace.name, 'logs', pod?.name ?? 'missing']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain(`echo ${pod?.name ?? ''} listening on 8080`);
  });

  test('kubectl exec runs a command in the container, with its environment and exit status', async () => {
    const [pod] = await echoPods(namespace.name);
    const name = pod?.name ?? 'missing';
    const env = await kubectl([
      '-n',
      namespace.name,
      'exec',
      name,
      '--',
      'node',
      '-e',
      'process.stdout.write(`${process.env.POD_NAME} ${process.getuid()}`)',
    ]);
    expect(env.stderr).toBe('');
    expect(env.stdout).toBe(`${name} 0`);
    const failing = await kubectl([
      '-n',
      namespace.name,
      'exec',
      name,
      '--',
      'node',
      '-e',
      'process.exit(3)',
    ]);
    expect(failing.code).toBe(3);
    const stdin = await kubectl(
      [
        '-n',
        namespace.name,
        'exec',
        '-i',
        name,
        '--',
        'node',
        '-e',
        'process.stdin.pipe(process.stdout)',
      ],
      { input: 'through stdin' },
    );
    expect(stdin.stdout).toBe('through stdin');
  });

  test('a deleted pod is replaced', async () => {
    const before = await echoPods(namespace.name);
    const victim = before[0]?.name ?? 'missing';
    const deleted = await kubectl(['-n', namespace.name, 'delete', 'pod', victim, '--wait=false']);
    expect(deleted.code).toBe(0);
    const after = await waitFor(
      async () => {
        const pods = await echoPods(namespace.name);
        const fresh = pods.filter((pod) => !before.some((old) => old.name === pod.name));
        return fresh.length === 1 && pods.length === REPLICAS && pods.every((pod) => pod.ready)
          ? pods
          : undefined;
      },
      { what: 'the deleted pod replaced and Ready', timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(after.map((pod) => pod.name)).not.toContain(victim);
  }, 120_000);
});
