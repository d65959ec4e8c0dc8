// What e2e tests use to reach the cluster under test: a KubeConfig, a fresh namespace per test
// file, and polling with a deadline. The Jest global setup (../global-setup.ts) has already
// brought the cluster up and exported PALISADE_KUBECONFIG / PALISADE_KUBECTL.
import { afterAll, beforeAll } from '@jest/globals';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { e2eKubeconfigPath } from './kubectl.js';
import { E2eEnvironmentError } from './paths.js';

/** Label put on every namespace {@link withNamespace} creates (to find leftovers). */
export const E2E_NAMESPACE_LABEL = 'palisade.dev/e2e';

/** How long a namespace may take to disappear after deletion (the namespace controller runs). */
const NAMESPACE_DELETE_TIMEOUT_MS = 120_000;

/** Loads the kubeconfig of the cluster under test (for kind: the current context). */
export function loadKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  const path = e2eKubeconfigPath();
  if (path === undefined) kubeConfig.loadFromDefault();
  else kubeConfig.loadFromFile(path);
  return kubeConfig;
}

/** True when `error` is the API server answering with HTTP `status`. */
export function isApiStatus(error: unknown, status: number): boolean {
  return error instanceof ApiException && error.code === status;
}

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** What is awaited, for the timeout message ("namespace x to be deleted"). */
  readonly what: string;
  readonly timeoutMs: number;
  /** Pause between probes; default 250 ms. */
  readonly intervalMs?: number;
}

/**
 * Calls `probe` until it resolves to something other than undefined, and returns that; a probe
 * that throws counts as "not yet". Fails with code E2E_WAIT_TIMEOUT (and the last error as cause)
 * when the deadline passes.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  options: WaitForOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new E2eEnvironmentError(
        'E2E_WAIT_TIMEOUT',
        `timed out after ${options.timeoutMs} ms waiting for ${options.what}`,
        { cause: lastError },
      );
    }
    await delay(options.intervalMs ?? 250);
  }
}

/** Deletes a namespace and waits until the namespace controller has removed it. */
export async function deleteNamespaceAndWait(
  core: CoreV1Api,
  name: string,
  timeoutMs = NAMESPACE_DELETE_TIMEOUT_MS,
): Promise<void> {
  try {
    await core.deleteNamespace({ name });
  } catch (error) {
    if (isApiStatus(error, 404)) return;
    throw error;
  }
  await waitFor(
    async () => {
      try {
        await core.readNamespace({ name });
        return undefined;
      } catch (error) {
        if (isApiStatus(error, 404)) return true;
        throw error;
      }
    },
    { what: `namespace ${name} to be deleted`, timeoutMs, intervalMs: 500 },
  );
}

/** A namespace owned by one test file; see {@link withNamespace}. */
export interface TestNamespace {
  /** The namespace's name; only available once the file's `beforeAll` hooks have run. */
  readonly name: string;
}

/**
 * Registers `beforeAll`/`afterAll` hooks that create a fresh namespace (`e2e-<prefix>-<random>`,
 * labelled {@link E2E_NAMESPACE_LABEL}) for the calling test file and delete it at the end,
 * waiting until it is gone. Call it at the top level of a test file or of a `describe`.
 */
export function withNamespace(prefix = 'test'): TestNamespace {
  let name: string | undefined;
  let core: CoreV1Api | undefined;
  beforeAll(async () => {
    core = loadKubeConfig().makeApiClient(CoreV1Api);
    const candidate = `e2e-${prefix}-${randomBytes(4).toString('hex')}`.toLowerCase();
    await core.createNamespace({
      body: { metadata: { name: candidate, labels: { [E2E_NAMESPACE_LABEL]: 'true' } } },
    });
    name = candidate;
  }, 30_000);
  afterAll(async () => {
    if (core !== undefined && name !== undefined) await deleteNamespaceAndWait(core, name);
  }, NAMESPACE_DELETE_TIMEOUT_MS + 10_000);
  return {
    get name(): string {
      if (name === undefined) {
        throw new E2eEnvironmentError(
          'E2E_NAMESPACE_NOT_READY',
          'withNamespace(): the namespace exists only inside tests and hooks after beforeAll',
        );
      }
      return name;
    },
  };
}
