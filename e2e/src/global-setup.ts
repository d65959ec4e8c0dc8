// Jest global setup of the e2e and e2e-node projects (one run for both). E2E_TARGET=local
// (default): reuse the local cluster when it is up and healthy, otherwise start it with
// e2e/cluster/up.sh (binaries from `make cluster-build`): the control plane and, unless
// PALISADE_NODE=0, the node; then the images built here (e2e/images/build.sh: pause, echo,
// operator, sidecar; rebuilt only when their inputs changed) are imported into the node. The
// teardown stops the cluster only when this run started it. E2E_TARGET=kind: use kubectl's
// current context as it is. Either way tests find the cluster through the variables exported
// here (PALISADE_KUBECONFIG, PALISADE_KUBECTL, PALISADE_CLUSTER_LOGS).
//
// Jest loads this file (and global-teardown.ts) through require(), outside its module mapper, so
// it imports nothing but Node built-ins; the paths come from e2e/cluster/env.sh.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The part of Jest's project config the setup reads. */
interface ProjectConfigLike {
  readonly rootDir: string;
}

function runScript(script: string, quiet = false, args: readonly string[] = []): number {
  const result = spawnSync('bash', [script, ...args], {
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', quiet ? 'ignore' : 'inherit'],
  });
  return result.status ?? -1;
}

/** Runs e2e/cluster/env.sh and returns its KEY=VALUE lines. */
function clusterEnv(scriptsDir: string): Map<string, string> {
  const result = spawnSync('bash', [join(scriptsDir, 'env.sh')], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`e2e/cluster/env.sh failed: ${result.stderr || String(result.error)}`);
  }
  const entries = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const separator = line.indexOf('=');
    if (separator > 0) entries.set(line.slice(0, separator), line.slice(separator + 1));
  }
  return entries;
}

function setupLocal(scriptsDir: string): void {
  const env = clusterEnv(scriptsDir);
  for (const key of ['PALISADE_KUBECONFIG', 'PALISADE_KUBECTL', 'PALISADE_CLUSTER_LOGS']) {
    const value = env.get(key);
    if (value === undefined) throw new Error(`e2e/cluster/env.sh did not print ${key}`);
    process.env[key] = value;
  }
  process.env['PALISADE_E2E_STARTED_CLUSTER'] = '0';
  const logs =
    `component logs: ${process.env['PALISADE_CLUSTER_LOGS']}/` +
    '<etcd|kube-apiserver|kube-controller-manager|kube-scheduler|containerd|kubelet|kube-proxy|coredns>.log';
  if (runScript(join(scriptsDir, 'status.sh'), true) === 0) {
    console.log(`\ne2e: reusing the running local cluster (left running). ${logs}`);
    importImages(scriptsDir);
    return;
  }
  console.log(`\ne2e: starting the local cluster (Kubernetes ${env.get('K8S_VERSION')})`);
  if (runScript(join(scriptsDir, 'up.sh')) !== 0) {
    runScript(join(scriptsDir, 'down.sh'), true);
    const hint = existsSync(process.env['PALISADE_KUBECTL'] ?? '')
      ? ''
      : " (binaries missing: run 'make cluster-build')";
    throw new Error(`e2e: the local control plane did not come up${hint}. ${logs}`);
  }
  process.env['PALISADE_E2E_STARTED_CLUSTER'] = '1';
  console.log(`e2e: cluster up; it is stopped after the run. ${logs}`);
  importImages(scriptsDir);
}

/** With the node: builds (when inputs changed) and imports the images the tests run. */
function importImages(scriptsDir: string): void {
  if (process.env['PALISADE_NODE'] === '0') return;
  if (runScript(join(scriptsDir, '..', 'images', 'build.sh'), false, ['--import']) !== 0) {
    throw new Error("e2e: building or importing the images failed (did 'make build' run?)");
  }
}

function setupKind(scriptsDir: string): void {
  const built = clusterEnv(scriptsDir).get('PALISADE_KUBECTL');
  const kubectl =
    process.env['PALISADE_KUBECTL'] ??
    (built !== undefined && existsSync(built) ? built : 'kubectl');
  process.env['PALISADE_KUBECTL'] = kubectl;
  const readyz = spawnSync(kubectl, ['get', '--raw', '/readyz'], { encoding: 'utf8' });
  if (readyz.status !== 0 || readyz.stdout.trim() !== 'ok') {
    throw new Error(
      'e2e (E2E_TARGET=kind): the current kubeconfig context is not a ready cluster ' +
        `(${kubectl} get --raw /readyz: ${readyz.stderr || readyz.stdout || String(readyz.error ?? `exit ${String(readyz.status)}`)})`,
    );
  }
  console.log('\ne2e: using the current kubeconfig context (E2E_TARGET=kind)');
}

/**
 * Installs the generated CRDs and waits until they are served: every e2e file may assume them,
 * whatever order jest runs the files in.
 */
function installCrds(rootDir: string): void {
  const kubectl = process.env['PALISADE_KUBECTL'] ?? 'kubectl';
  const kubeconfig = process.env['PALISADE_KUBECONFIG'];
  const base = kubeconfig === undefined ? [] : ['--kubeconfig', kubeconfig];
  const run = (args: string[]): void => {
    const result = spawnSync(kubectl, [...base, ...args], { encoding: 'utf8' });
    if (result.status !== 0) {
      throw new Error(
        `e2e: kubectl ${args.join(' ')} failed: ${result.stderr || String(result.error)}`,
      );
    }
  };
  run([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    join(rootDir, 'crds', 'generated', 'all.yaml'),
  ]);
  run([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '-l',
    'app.kubernetes.io/part-of=palisade',
  ]);
}

/** Jest global setup: makes the cluster under test available (see the file comment). */
export default function globalSetup(_globalConfig: unknown, project: ProjectConfigLike): void {
  const scriptsDir = join(project.rootDir, 'e2e', 'cluster');
  const target = process.env['E2E_TARGET'] ?? 'local';
  if (target === 'kind') setupKind(scriptsDir);
  else if (target === 'local') setupLocal(scriptsDir);
  else throw new Error(`E2E_TARGET must be "local" or "kind", got "${target}"`);
  installCrds(project.rootDir);
}
