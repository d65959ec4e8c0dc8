// Where the local control plane lives on disk, computed the same way as e2e/cluster/lib.sh so
// that tests, the Jest global setup and the shell scripts agree without passing state around.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which cluster the e2e suite runs against: the local control plane or a kind cluster. */
export type E2eTarget = 'local' | 'kind';

/** Paths of the local control plane (see e2e/cluster/README.md). */
export interface ClusterPaths {
  /** The repository's e2e/cluster folder (scripts, versions.env). */
  readonly scriptsDir: string;
  /** Kubernetes version pinned in e2e/cluster/versions.env, e.g. `v1.33.13`. */
  readonly kubernetesVersion: string;
  /** Folder of the built binaries (kube-apiserver, kubectl, etcd, helm, ...). */
  readonly binDir: string;
  /** State of the running cluster: pki/, logs/, run/, etcd/, kubeconfigs. */
  readonly clusterDir: string;
  /** Cluster-admin kubeconfig of the local control plane. */
  readonly adminKubeconfig: string;
  /** Folder holding one `<component>.log` per control-plane component. */
  readonly logsDir: string;
}

/** Error with a stable `code`, raised when the e2e environment is not usable. */
export class E2eEnvironmentError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'E2eEnvironmentError';
    this.code = code;
  }
}

/** Reads E2E_TARGET (default `local`); anything else than `local` or `kind` is an error. */
export function e2eTarget(env: NodeJS.ProcessEnv = process.env): E2eTarget {
  const value = env['E2E_TARGET'] ?? 'local';
  if (value === 'local' || value === 'kind') return value;
  throw new E2eEnvironmentError(
    'E2E_TARGET_INVALID',
    `E2E_TARGET must be "local" or "kind", got "${value}"`,
  );
}

/** Parses the KEY=VALUE lines of a shell env file (comments and blank lines ignored). */
export function parseEnvFile(text: string): ReadonlyMap<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      entries.set(match[1], match[2].trim().replace(/^(['"])(.*)\1$/, '$2'));
    }
  }
  return entries;
}

/** Computes the local control plane's paths from the environment and versions.env. */
export function clusterPaths(env: NodeJS.ProcessEnv = process.env): ClusterPaths {
  const scriptsDir = fileURLToPath(new URL('../../cluster/', import.meta.url));
  const versions = parseEnvFile(readFileSync(join(scriptsDir, 'versions.env'), 'utf8'));
  const kubernetesVersion = versions.get('K8S_VERSION');
  if (kubernetesVersion === undefined) {
    throw new E2eEnvironmentError(
      'E2E_VERSIONS_INVALID',
      `K8S_VERSION missing from ${join(scriptsDir, 'versions.env')}`,
    );
  }
  const cacheDir = env['PALISADE_CACHE_DIR'] ?? join(homedir(), '.cache', 'palisade');
  const clusterDir = env['PALISADE_CLUSTER_DIR'] ?? join(cacheDir, 'cluster');
  return {
    scriptsDir,
    kubernetesVersion,
    binDir: join(cacheDir, 'k8s', kubernetesVersion, 'bin'),
    clusterDir,
    adminKubeconfig: join(clusterDir, 'admin.kubeconfig'),
    logsDir: join(clusterDir, 'logs'),
  };
}

/** The repository's root directory. */
export const repoRoot = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');

/** The Helm chart under test. */
export const chartDir = join(repoRoot, 'charts', 'palisade');
