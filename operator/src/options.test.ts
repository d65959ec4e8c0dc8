import { describe, expect, it } from '@jest/globals';
import { OptionsError, parseDuration, parseOptions } from './options.js';

const run = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseOptions(argv, env, 'host-1');
  if (parsed.kind !== 'run') throw new Error('expected run');
  return parsed.options;
};

describe('parseOptions', () => {
  it('has working defaults', () => {
    const o = run(['--webhook=false']);
    expect(o.kubeconfig).toBeUndefined();
    expect(o.watchNamespace).toBeUndefined();
    expect(o.identity).toBe('host-1');
    expect(o.operatorNamespace).toBe('palisade-system');
    expect(o.leaderElection).toEqual({
      enabled: true,
      leaseName: 'palisade-operator',
      timings: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
    });
    expect(o.health).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(o.installation.ports).toEqual({
      admin: 15000,
      inbound: 15006,
      outbound: 15001,
      raft: 15010,
    });
    expect(o.installation.redis).toBeUndefined();
    expect(o.installation.tracing).toEqual({ sampleRatio: 0.01 });
    // Without the webhook nothing mounts the Raft credential: the compiler names no paths.
    expect(o.installation.raft).toBeUndefined();
  });

  it('reads flags, then PALISADE_* env, then the downward-API names', () => {
    const o = run(
      ['--redis-url', 'redis://redis:6379', '--leader-elect', 'false', '--webhook=false'],
      {
        PALISADE_OTLP_ENDPOINT: 'http://otel:4318',
        POD_NAME: 'op-0',
        POD_NAMESPACE: 'ops',
        PALISADE_REDIS_URL: 'redis://ignored:1',
      },
    );
    expect(o.installation.redis).toEqual({ url: 'redis://redis:6379' });
    expect(o.installation.tracing).toEqual({ otlpEndpoint: 'http://otel:4318', sampleRatio: 0.01 });
    expect(o.identity).toBe('op-0');
    expect(o.operatorNamespace).toBe('ops');
    expect(o.leaderElection.enabled).toBe(false);
  });

  it('builds the webhook certificate names from the service', () => {
    const o = run([
      '--sidecar-image=img:1',
      '--webhook-ip',
      '127.0.0.1',
      '--webhook-bind',
      '127.0.0.1:0',
    ]);
    if (!o.webhook.enabled) throw new Error('webhook');
    expect(o.webhook.dnsNames).toContain('palisade-operator.palisade-system.svc');
    expect(o.webhook.ipAddresses).toEqual(['127.0.0.1']);
    expect(o.webhook.bind).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it.each([
    [['--nope'], /unknown option --nope/],
    [['--webhook=false', '--redis-url', 'http://x'], /--redis-url/],
    [['--webhook=false', '--trace-ratio', '2'], /--trace-ratio/],
    [['--webhook=false', '--retry-period', '9s'], /1.2/],
    [['--webhook=false', '--lease-duration', 'soon'], /--lease-duration/],
    [['--webhook=false', '--health-bind', '8080'], /--health-bind/],
    [['--webhook=false', '--sidecar-ports', 'admin=1,inbound=1,outbound=2,raft=3'], /differ/],
    [[], /--sidecar-image is required/],
    [['--webhook=false', '--watch-namespace', 'Bad_NS'], /--watch-namespace/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseOptions(argv, {}, 'h')).toThrow(OptionsError);
    expect(() => parseOptions(argv, {}, 'h')).toThrow(message);
  });

  it('answers --help', () => {
    expect(parseOptions(['--help'], {}, 'h')).toEqual({ kind: 'help' });
  });

  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('720h')).toBe(2_592_000_000);
    expect(parseDuration('5')).toBeUndefined();
  });
});

describe('chart compatibility', () => {
  const file = [
    'ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 }',
    'app: { host: 127.0.0.1, defaultPort: 9000 }',
    'logLevel: warn',
    'tracing: { sampleRatio: 0.5, otlpEndpoint: "http://otel:4318" }',
    'redis: { url: "redis://r:6379", timeout: 100ms }',
    'sidecar:',
    '  image: img:2',
    '  imagePullPolicy: Always',
    '  imagePullSecrets: []',
    '  clusterRole: palisade-palisade-system-sidecar',
    '  resources: { requests: { cpu: 10m, memory: 32Mi }, limits: { cpu: 500m, memory: 128Mi } }',
  ].join('\n');

  it('reads the installation file and the chart’s flag spellings; flags win over the file', () => {
    const parsed = parseOptions(
      [
        '--config=/etc/palisade/installation.yaml',
        '--health-port=8081',
        '--webhook-port=9443',
        '--webhook-path=/mutate-v1-pod',
        '--webhook-cert-secret=tls',
        '--webhook-cert-mode=cert-manager',
        '--leader-election-namespace=ops',
        '--leader-election-lease-name=palisade',
        '--leader-election-lease-duration=20s',
        '--trace-ratio=0.25',
      ],
      {},
      'h',
      (path) => {
        expect(path).toBe('/etc/palisade/installation.yaml');
        return file;
      },
    );
    if (parsed.kind !== 'run') throw new Error('run');
    const o = parsed.options;
    expect(o.health).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(o.operatorNamespace).toBe('ops');
    expect(o.leaderElection.leaseName).toBe('palisade');
    expect(o.leaderElection.timings.leaseDurationMs).toBe(20_000);
    expect(o.sidecarClusterRole).toBe('palisade-palisade-system-sidecar');
    expect(o.installation).toEqual({
      redis: { url: 'redis://r:6379', timeout: '100ms' },
      tracing: { otlpEndpoint: 'http://otel:4318', sampleRatio: 0.25 },
      ports: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
      app: { host: '127.0.0.1', defaultPort: 9000 },
      logLevel: 'warn',
      // Where the injected sidecar mounts the Raft Secret and its data dir (webhook on).
      raft: { secretFile: '/var/run/palisade/raft/key', dataDir: '/var/lib/palisade/raft' },
    });
    expect(o.sidecar).toMatchObject({
      image: 'img:2',
      imagePullPolicy: 'Always',
      resources: {
        requests: { cpu: '10m', memory: '32Mi' },
        limits: { cpu: '500m', memory: '128Mi' },
      },
    });
    if (!o.webhook.enabled) throw new Error('webhook');
    expect(o.webhook).toMatchObject({
      bind: { host: '0.0.0.0', port: 9443 },
      path: '/mutate-v1-pod',
      secretName: 'tls',
      certificateMode: 'cert-manager',
    });
  });

  it('leaves out what the file’s resources leave out (no CPU limit)', () => {
    const parsed = parseOptions(
      ['--config=f'],
      {},
      'h',
      () =>
        'sidecar: { image: i, resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { memory: 256Mi } } }',
    );
    if (parsed.kind !== 'run') throw new Error('run');
    expect(parsed.options.sidecar.resources).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { memory: '256Mi' },
    });
  });

  it('refuses unknown fields of the file by name', () => {
    expect(() => parseOptions(['--config=x'], {}, 'h', () => 'sidecar: { imag: x }')).toThrow(
      'unknown field sidecar.imag',
    );
    expect(() =>
      parseOptions(['--config=x'], {}, 'h', () => {
        throw new Error('ENOENT');
      }),
    ).toThrow(/cannot read x/);
  });
});
