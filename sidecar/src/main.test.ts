import { describe, expect, it } from '@jest/globals';
import { parseArguments } from './main.js';

const podEnv = { POD_NAME: 'checkout-1', POD_NAMESPACE: 'shop', PALISADE_APP_PORT: '8080' };

describe('parseArguments', () => {
  it('runs from a file with --config, reading no environment', () => {
    expect(parseArguments(['--config', 'x.yaml'], podEnv)).toEqual({
      kind: 'run',
      options: {
        configPath: 'x.yaml',
        seed: undefined,
        shutdownGraceMs: undefined,
        probePort: undefined,
      },
    });
  });

  it('takes pod identity and ports from the environment in Kubernetes mode; flags win', () => {
    const command = parseArguments(['--kubernetes', '--kubeconfig', '/k', '--admin-port=15100'], {
      ...podEnv,
      PALISADE_ADMIN_PORT: '15000',
      PALISADE_PROBE_PORT: '15021',
    });
    expect(command).toEqual({
      kind: 'run',
      options: {
        kubernetes: {
          kubeconfigPath: '/k',
          namespace: 'shop',
          pod: {
            podName: 'checkout-1',
            appPort: 8080,
            listeners: { admin: 15100, inbound: undefined, outbound: undefined, raft: undefined },
          },
        },
        seed: undefined,
        shutdownGraceMs: undefined,
        probePort: 15021,
      },
    });
  });

  it('refuses Kubernetes mode without pod identity or app port, naming what is missing', () => {
    expect(
      parseArguments(['--kubernetes'], { POD_NAMESPACE: 'shop', PALISADE_APP_PORT: '1' }),
    ).toEqual({
      kind: 'usage-error',
      message: '--kubernetes needs POD_NAME and POD_NAMESPACE (downward API)',
    });
    expect(
      parseArguments(['--kubernetes'], { POD_NAME: 'p', POD_NAMESPACE: 'shop' }),
    ).toMatchObject({
      kind: 'usage-error',
      message: expect.stringContaining('PALISADE_APP_PORT'),
    });
  });

  it('refuses bad ports, naming the flag or the variable', () => {
    expect(parseArguments(['--kubernetes', '--inbound-port', '70000'], podEnv)).toMatchObject({
      kind: 'usage-error',
      message: expect.stringContaining('--inbound-port must be a port'),
    });
    expect(parseArguments(['--kubernetes'], { ...podEnv, PALISADE_RAFT_PORT: 'x' })).toMatchObject({
      kind: 'usage-error',
      message: expect.stringContaining('PALISADE_RAFT_PORT must be a port'),
    });
  });

  it('refuses mixing the modes, and Kubernetes-only flags with --config', () => {
    expect(parseArguments(['--kubernetes', '--config', 'x'], podEnv)).toMatchObject({
      kind: 'usage-error',
      message: '--config and --kubernetes exclude each other',
    });
    expect(parseArguments(['--config', 'x', '--app-port', '1'])).toMatchObject({
      kind: 'usage-error',
      message: '--app-port is only for --kubernetes',
    });
    expect(parseArguments(['--config', 'x', '--kubeconfig', 'k'])).toMatchObject({
      kind: 'usage-error',
      message: '--kubeconfig is only for --kubernetes',
    });
    expect(parseArguments(['--config', 'x', '--probe-port', '9'])).toMatchObject({
      kind: 'run',
      options: { probePort: 9 },
    });
  });
});
