import { describe, expect, it } from '@jest/globals';
import { EXIT, runCli, type CliIo } from './main.js';

function io(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env,
    onSignal: () => undefined,
  };
  return { cli, out, err };
}

describe('runCli', () => {
  it('prints the usage for --help and exits 0', async () => {
    const { cli, out } = io();
    expect(await runCli(['--help'], cli)).toBe(EXIT.ok);
    expect(out.join('')).toContain('--leader-elect');
  });

  it('exits 2 naming the flag on bad options, before touching the cluster', async () => {
    const { cli, err } = io();
    expect(await runCli(['--webhook=false', '--trace-ratio', '7'], cli)).toBe(EXIT.usage);
    expect(err.join('')).toContain('--trace-ratio');
  });

  it('exits 2 without a kubeconfig outside a cluster', async () => {
    const { cli, err } = io();
    expect(await runCli(['--webhook=false'], cli)).toBe(EXIT.usage);
    expect(err.join('')).toContain('KUBERNETES_SERVICE_HOST');
  });

  it('exits 2 when the kubeconfig cannot be read', async () => {
    const { cli, err } = io();
    expect(await runCli(['--webhook=false', '--kubeconfig', '/nonexistent/kubeconfig'], cli)).toBe(
      EXIT.usage,
    );
    expect(err.join('')).toContain('cannot load the kubeconfig');
  });
});
