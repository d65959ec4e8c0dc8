// Runs the kubectl built with the control plane (or the one on PATH for kind) against the e2e
// cluster, capturing its output. A non-zero exit is a result, not an exception: tests assert on it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clusterPaths, e2eTarget } from './paths.js';

/** What one kubectl invocation produced. */
export interface KubectlResult {
  /** Exit status (a signal-terminated kubectl reports -1). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link kubectl}. */
export interface KubectlOptions {
  /** Written to kubectl's standard input (e.g. a manifest for `apply -f -`). */
  readonly input?: string;
  /** Killed after this long (milliseconds); default 60 000. */
  readonly timeoutMs?: number;
}

/**
 * The kubeconfig of the cluster under test: PALISADE_KUBECONFIG (set by the global setup), else
 * the local control plane's admin kubeconfig; for kind, undefined means kubectl's current context.
 */
export function e2eKubeconfigPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env['PALISADE_KUBECONFIG'];
  if (explicit !== undefined && explicit !== '') return explicit;
  return e2eTarget(env) === 'local' ? clusterPaths(env).adminKubeconfig : undefined;
}

/** The kubectl binary: PALISADE_KUBECTL, else the built one, else `kubectl` from PATH. */
export function kubectlPath(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['PALISADE_KUBECTL'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const built = join(clusterPaths(env).binDir, 'kubectl');
  return existsSync(built) ? built : 'kubectl';
}

/** Runs `kubectl <args>` against the e2e cluster and resolves with its exit code and output. */
export function kubectl(
  args: readonly string[],
  options: KubectlOptions = {},
): Promise<KubectlResult> {
  return runWithKubeconfig(kubectlPath(), args, options);
}

/**
 * Runs a Kubernetes client (kubectl, helm) with `--kubeconfig` of the e2e cluster first, and
 * resolves with its exit code and output.
 */
export function runWithKubeconfig(
  binary: string,
  args: readonly string[],
  options: KubectlOptions = {},
): Promise<KubectlResult> {
  const kubeconfig = e2eKubeconfigPath();
  const fullArgs = kubeconfig === undefined ? [...args] : ['--kubeconfig', kubeconfig, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, fullArgs, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

/** `kubectl <args>` that must succeed: its standard output, or an error carrying its stderr. */
export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  return succeeded('kubectl', args, await kubectl(args, input === undefined ? {} : { input }));
}

/** `helm <args>` that must succeed (default timeout 300 s: `--wait` installs take minutes). */
export async function helmOk(args: readonly string[], timeoutMs = 300_000): Promise<string> {
  return succeeded('helm', args, await helm(args, { timeoutMs }));
}

function succeeded(tool: string, args: readonly string[], result: KubectlResult): string {
  if (result.code !== 0) throw new Error(`${tool} ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** PALISADE_HELM, else helm beside the e2e kubectl (built with it), else `helm` from PATH. */
export function helmPath(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['PALISADE_HELM'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const beside = join(dirname(kubectlPath(env)), 'helm');
  return existsSync(beside) ? beside : 'helm';
}

/** Runs `helm <args>` against the e2e cluster; a non-zero exit is a result. */
export function helm(
  args: readonly string[],
  options: KubectlOptions = {},
): Promise<KubectlResult> {
  return runWithKubeconfig(helmPath(), args, options);
}

/** A running `kubectl port-forward` to one pod's port. */
export interface PortForward {
  readonly pod: string;
  /** The local (loopback) port kubectl chose. */
  readonly localPort: number;
  /** Stops kubectl. */
  close(): void;
}

/**
 * `kubectl port-forward pod/<pod> :<port>` in `namespace`, resolved once kubectl says which local
 * port it forwards from (within 20 s); rejected if kubectl exits first.
 */
export function portForward(namespace: string, pod: string, port: number): Promise<PortForward> {
  const kubeconfig = e2eKubeconfigPath();
  const child = spawn(
    kubectlPath(),
    [
      ...(kubeconfig === undefined ? [] : ['--kubeconfig', kubeconfig]),
      'port-forward',
      '-n',
      namespace,
      `pod/${pod}`,
      `:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`port-forward to ${pod}: no local port after 20 s: ${err}`));
    }, 20_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ pod, localPort: Number(match[1]), close: () => child.kill() });
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`port-forward to ${pod} exited ${code}: ${err}`));
    });
  });
}
