import { parse as parseYaml } from 'yaml';
import type { InstallationSettings } from './compiler/types.js';
import { validateLeaseTimings, type LeaseTimings } from './leader/lease-decision.js';
import { INJECTED_RAFT_PATHS } from './webhook/raft-volumes.js';

/** A refused option: stable code, the flag named in the message. */
export class OptionsError extends Error {
  readonly code = 'INVALID_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'OptionsError';
  }
}

/** host:port to bind a server on. */
export interface BindAddress {
  host: string;
  port: number;
}

/** Settings of the sidecar the webhook injects. */
export interface SidecarSettings {
  image: string;
  /** Arguments of the sidecar container (Kubernetes mode). */
  args: readonly string[];
  ports: InstallationSettings['ports'];
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  resources: {
    /** Absent entries are left unset (e.g. no CPU limit). */
    requests: { cpu?: string; memory?: string };
    limits: { cpu?: string; memory?: string };
  };
}

/** Everything `palisade-operator` is configured with, parsed and validated once in `main`. */
export interface OperatorRuntimeOptions {
  /** Path of a kubeconfig; undefined: in-cluster service account. */
  kubeconfig: string | undefined;
  /** Namespace whose resources are watched; undefined: all namespaces. */
  watchNamespace: string | undefined;
  /** Where the Lease and the webhook Secret live. */
  operatorNamespace: string;
  /** This replica's name in the Lease. */
  identity: string;
  leaderElection: { enabled: boolean; leaseName: string; timings: LeaseTimings };
  health: BindAddress;
  webhook:
    | {
        enabled: true;
        bind: BindAddress;
        configurationName: string;
        /** Path served, e.g. /mutate. */
        path: string;
        /** Who makes the certificate: the operator, or cert-manager (then only read). */
        certificateMode: 'operator' | 'cert-manager';
        secretName: string;
        /** DNS names of the serving certificate. */
        dnsNames: readonly string[];
        /** IP addresses of the serving certificate (e.g. 127.0.0.1 for a local API server). */
        ipAddresses: readonly string[];
        /** Renew the serving certificate when less than this is left, ms. */
        renewBeforeMs: number;
      }
    | { enabled: false };
  installation: InstallationSettings;
  sidecar: SidecarSettings;
  /** ClusterRole the operator binds, per namespace with injected pods, to its service accounts. */
  sidecarClusterRole: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Time allowed to drain on SIGTERM, ms. */
  shutdownGraceMs: number;
}

/** One flag: its name (without `--`), its env fallback is `PALISADE_<NAME>` in upper snake case. */
interface FlagSpec {
  name: string;
  help: string;
  boolean?: boolean;
  default?: string;
  /** Extra env names read after `PALISADE_<NAME>` (e.g. POD_NAMESPACE from the downward API). */
  env?: readonly string[];
}

/**
 * Other spellings accepted for compatibility with the Helm chart (charts/palisade), mapped to
 * the canonical option; `toValue` converts the value (a port → a bind address).
 */
const ALIASES: ReadonlyMap<string, { name: string; toValue?: (v: string) => string }> = new Map([
  ['health-port', { name: 'health-bind', toValue: (v: string) => `0.0.0.0:${v}` }],
  ['webhook-port', { name: 'webhook-bind', toValue: (v: string) => `0.0.0.0:${v}` }],
  ['leader-election-namespace', { name: 'operator-namespace' }],
  ['leader-election-lease-name', { name: 'lease-name' }],
  ['leader-election-lease-duration', { name: 'lease-duration' }],
  ['leader-election-renew-deadline', { name: 'renew-deadline' }],
  ['leader-election-retry-period', { name: 'retry-period' }],
  ['webhook-cert-secret', { name: 'webhook-secret' }],
]);

const FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', help: 'kubeconfig file (default: in-cluster)', env: ['KUBECONFIG'] },
  {
    name: 'config',
    help: 'installation settings file (YAML: ports, app, logLevel, tracing, redis, sidecar); flags win',
  },
  { name: 'watch-namespace', help: 'watch one namespace only (default: all)' },
  {
    name: 'operator-namespace',
    help: 'namespace of the Lease and webhook Secret',
    default: 'palisade-system',
    env: ['POD_NAMESPACE'],
  },
  {
    name: 'identity',
    help: 'name in the Lease (default: pod name or host-pid)',
    env: ['POD_NAME'],
  },
  {
    name: 'leader-elect',
    help: 'run leader election (true|false)',
    default: 'true',
    boolean: true,
  },
  { name: 'lease-name', help: 'Lease name', default: 'palisade-operator' },
  { name: 'lease-duration', help: 'lease duration', default: '15s' },
  { name: 'renew-deadline', help: 'renew deadline', default: '10s' },
  { name: 'retry-period', help: 'retry period', default: '2s' },
  { name: 'health-bind', help: 'health/metrics address', default: '0.0.0.0:8080' },
  {
    name: 'webhook',
    help: 'serve the injection webhook (true|false)',
    default: 'true',
    boolean: true,
  },
  { name: 'webhook-bind', help: 'webhook HTTPS address', default: '0.0.0.0:9443' },
  { name: 'webhook-path', help: 'path of the mutating webhook', default: '/mutate' },
  {
    name: 'webhook-cert-mode',
    help: 'operator (generate, rotate, patch caBundle) | cert-manager (read the Secret only)',
    default: 'operator',
  },
  {
    name: 'webhook-configuration',
    help: 'MutatingWebhookConfiguration whose caBundle is kept',
    default: 'palisade-sidecar-injector',
  },
  {
    name: 'webhook-secret',
    help: 'Secret holding CA + serving cert',
    default: 'palisade-webhook-tls',
  },
  {
    name: 'webhook-service',
    help: 'Service in front of the webhook',
    default: 'palisade-operator',
  },
  { name: 'webhook-ip', help: 'extra IP SANs, comma-separated', default: '' },
  {
    name: 'cert-renew-before',
    help: 'renew the serving cert this long before expiry',
    default: '720h',
  },
  { name: 'redis-url', help: 'Redis for global rate limits (redis:// or rediss://)' },
  { name: 'redis-timeout', help: "sidecars' Redis command timeout, e.g. 100ms" },
  { name: 'app-default-port', help: 'app port when a pod names none', default: '8080' },
  { name: 'sidecar-log-level', help: 'debug|info|warn|error for sidecars', default: 'info' },
  { name: 'otlp-endpoint', help: 'OTLP/HTTP traces endpoint of the sidecars' },
  { name: 'trace-ratio', help: 'trace sampling ratio 0..1', default: '0.01' },
  { name: 'sidecar-image', help: 'sidecar image (required with --webhook)' },
  { name: 'sidecar-args', help: 'sidecar arguments, comma-separated', default: '--kubernetes' },
  {
    name: 'sidecar-ports',
    help: 'sidecar ports',
    default: 'admin=15000,inbound=15006,outbound=15001,raft=15010',
  },
  { name: 'sidecar-pull-policy', help: 'Always|IfNotPresent|Never', default: 'IfNotPresent' },
  {
    name: 'sidecar-cluster-role',
    help: 'ClusterRole bound per namespace with injected pods',
    default: 'palisade-sidecar',
  },
  { name: 'sidecar-cpu', help: 'request,limit', default: '50m,1' },
  { name: 'sidecar-memory', help: 'request,limit', default: '64Mi,256Mi' },
  { name: 'log-level', help: 'debug|info|warn|error', default: 'info' },
  { name: 'shutdown-grace', help: 'drain time on SIGTERM', default: '20s' },
];

/** `--help` text. */
export const USAGE = [
  'Usage: palisade-operator [options]   (each option also reads PALISADE_<OPTION> from the env)',
  '',
  ...FLAGS.map(
    (f) =>
      `  --${f.name.padEnd(24)} ${f.help}${f.default === undefined || f.default === '' ? '' : ` (default ${f.default})`}`,
  ),
  '  --help                     show this help',
].join('\n');

/** The result of parsing a command line. */
export type ParsedCommand = { kind: 'help' } | { kind: 'run'; options: OperatorRuntimeOptions };

/**
 * Parses flags (`--name value`, `--name=value`, bare boolean `--name`) with env fallbacks,
 * then validates every value. Pure: argv, env and the fallback identity come in.
 * Throws `OptionsError` naming the offending option.
 */
export function parseOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  fallbackIdentity: string,
  readFile: (path: string) => string = () => {
    throw new OptionsError('--config cannot be read here');
  },
): ParsedCommand {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (!arg.startsWith('--')) throw new OptionsError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const written = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const alias = ALIASES.get(written);
    const name = alias?.name ?? written;
    const convert = alias?.toValue ?? ((v: string) => v);
    const spec = FLAGS.find((f) => f.name === name);
    if (spec === undefined) throw new OptionsError(`unknown option --${written} (see --help)`);
    if (eq > 0) given.set(name, convert(arg.slice(eq + 1)));
    else if (spec.boolean === true) {
      const next = argv[i + 1];
      if (next === 'true' || next === 'false') {
        given.set(name, next);
        i++;
      } else given.set(name, 'true');
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--'))
        throw new OptionsError(`--${written} needs a value`);
      given.set(name, convert(next));
      i++;
    }
  }
  let fromFile = new Map<string, string>();
  const lookup = (name: string): string | undefined => {
    const spec = FLAGS.find((f) => f.name === name) as FlagSpec;
    const fromFlag = given.get(name);
    if (fromFlag !== undefined) return fromFlag;
    for (const key of [`PALISADE_${name.toUpperCase().replace(/-/g, '_')}`, ...(spec.env ?? [])]) {
      const v = env[key];
      if (v !== undefined && v !== '') return v;
    }
    return fromFile.get(name) ?? spec.default;
  };
  const configPath = lookup('config');
  if (configPath !== undefined) {
    let text: string;
    try {
      text = readFile(configPath);
    } catch (error) {
      throw new OptionsError(`--config: cannot read ${configPath}: ${(error as Error).message}`);
    }
    fromFile = installationFileOptions(text);
  }
  const get = lookup;
  const webhookEnabled = parseBoolean('webhook', get('webhook'));
  const operatorNamespace = dnsLabel('operator-namespace', get('operator-namespace'));
  const watchNamespace = get('watch-namespace');
  const timings: LeaseTimings = {
    leaseDurationMs: duration('lease-duration', get('lease-duration')),
    renewDeadlineMs: duration('renew-deadline', get('renew-deadline')),
    retryPeriodMs: duration('retry-period', get('retry-period')),
  };
  const timingError = validateLeaseTimings(timings);
  if (timingError !== undefined) throw new OptionsError(`leader election: ${timingError}`);
  const ports = parsePorts(get('sidecar-ports') ?? '');
  const redisUrl = get('redis-url');
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl))
    throw new OptionsError('--redis-url must be redis://… or rediss://…');
  const otlp = get('otlp-endpoint');
  if (otlp !== undefined && !/^https?:\/\/[^\s]+$/.test(otlp))
    throw new OptionsError('--otlp-endpoint must be an http(s) URL');
  const ratio = Number(get('trace-ratio'));
  if (!(ratio >= 0 && ratio <= 1)) throw new OptionsError('--trace-ratio must be within 0..1');
  const logLevel = get('log-level');
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn' && logLevel !== 'error')
    throw new OptionsError('--log-level must be debug, info, warn or error');
  const sidecarLogLevel = get('sidecar-log-level');
  if (
    sidecarLogLevel !== 'debug' &&
    sidecarLogLevel !== 'info' &&
    sidecarLogLevel !== 'warn' &&
    sidecarLogLevel !== 'error'
  )
    throw new OptionsError('--sidecar-log-level must be debug, info, warn or error');
  const redisTimeout = get('redis-timeout');
  if (redisTimeout !== undefined && parseDuration(redisTimeout) === undefined)
    throw new OptionsError('--redis-timeout must be a duration like 100ms');
  const pullPolicy = get('sidecar-pull-policy');
  if (pullPolicy !== 'Always' && pullPolicy !== 'IfNotPresent' && pullPolicy !== 'Never')
    throw new OptionsError('--sidecar-pull-policy must be Always, IfNotPresent or Never');
  const image = get('sidecar-image');
  if (webhookEnabled && (image === undefined || !/^[^\s]+$/.test(image)))
    throw new OptionsError(
      '--sidecar-image is required when the webhook is on (--webhook=false to turn it off)',
    );
  const cpu = pair('sidecar-cpu', get('sidecar-cpu'));
  const memory = pair('sidecar-memory', get('sidecar-memory'));
  const service = dnsLabel('webhook-service', get('webhook-service'));
  const ips = (get('webhook-ip') ?? '').split(',').filter((s) => s !== '');
  for (const ip of ips)
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip))
      throw new OptionsError(`--webhook-ip: '${ip}' is not an IPv4 address`);
  const identity = get('identity') ?? fallbackIdentity;
  if (!/^[A-Za-z0-9._-]{1,253}$/.test(identity))
    throw new OptionsError('--identity: letters, digits, ".", "_", "-" only');
  return {
    kind: 'run',
    options: {
      kubeconfig: get('kubeconfig'),
      watchNamespace:
        watchNamespace === undefined ? undefined : dnsLabel('watch-namespace', watchNamespace),
      operatorNamespace,
      identity,
      leaderElection: {
        enabled: parseBoolean('leader-elect', get('leader-elect')),
        leaseName: dnsName('lease-name', get('lease-name')),
        timings,
      },
      health: bindAddress('health-bind', get('health-bind')),
      webhook: webhookEnabled
        ? {
            enabled: true,
            bind: bindAddress('webhook-bind', get('webhook-bind')),
            configurationName: dnsName('webhook-configuration', get('webhook-configuration')),
            path: webhookPath(get('webhook-path')),
            certificateMode: certificateMode(get('webhook-cert-mode')),
            secretName: dnsName('webhook-secret', get('webhook-secret')),
            dnsNames: [
              service,
              `${service}.${operatorNamespace}`,
              `${service}.${operatorNamespace}.svc`,
              `${service}.${operatorNamespace}.svc.cluster.local`,
            ],
            ipAddresses: ips,
            renewBeforeMs: duration('cert-renew-before', get('cert-renew-before')),
          }
        : { enabled: false },
      installation: {
        ...(redisUrl === undefined
          ? {}
          : {
              redis: {
                url: redisUrl,
                ...(redisTimeout === undefined ? {} : { timeout: redisTimeout }),
              },
            }),
        ...(otlp === undefined && ratio === 0
          ? {}
          : {
              tracing: {
                ...(otlp === undefined ? {} : { otlpEndpoint: otlp }),
                sampleRatio: ratio,
              },
            }),
        ports,
        app: { host: '127.0.0.1', defaultPort: port('app-default-port', get('app-default-port')) },
        logLevel: sidecarLogLevel,
        // The pods this operator injects mount the group credential and a data dir there.
        ...(webhookEnabled ? { raft: { ...INJECTED_RAFT_PATHS } } : {}),
      },
      sidecar: {
        image: image ?? '',
        args: (get('sidecar-args') ?? '').split(',').filter((s) => s !== ''),
        ports,
        imagePullPolicy: pullPolicy,
        resources: {
          requests: {
            ...(cpu.request === undefined ? {} : { cpu: cpu.request }),
            ...(memory.request === undefined ? {} : { memory: memory.request }),
          },
          limits: {
            ...(cpu.limit === undefined ? {} : { cpu: cpu.limit }),
            ...(memory.limit === undefined ? {} : { memory: memory.limit }),
          },
        },
      },
      sidecarClusterRole: dnsName('sidecar-cluster-role', get('sidecar-cluster-role')),
      logLevel,
      shutdownGraceMs: duration('shutdown-grace', get('shutdown-grace')),
    },
  };
}

/** `15s`, `500ms`, `2m`, `720h` → ms. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (m === null) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

function duration(name: string, text: string | undefined): number {
  const ms = text === undefined ? undefined : parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new OptionsError(`--${name} must be a duration like 500ms, 15s, 2m or 720h`);
  return ms;
}

function parseBoolean(name: string, text: string | undefined): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new OptionsError(`--${name} must be true or false`);
}

function bindAddress(name: string, text: string | undefined): BindAddress {
  const m = /^(.+):(\d{1,5})$/.exec(text ?? '');
  const port = Number(m?.[2]);
  if (m === null || port > 65535) throw new OptionsError(`--${name} must be host:port`);
  return { host: (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

function dnsLabel(name: string, text: string | undefined): string {
  if (text === undefined || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text))
    throw new OptionsError(`--${name} must be a DNS label (lower-case, digits, '-')`);
  return text;
}

function dnsName(name: string, text: string | undefined): string {
  if (text === undefined || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(text))
    throw new OptionsError(`--${name} must be a DNS subdomain name`);
  return text;
}

/** `request,limit`; either side may be empty (not set). */
function pair(name: string, text: string | undefined): { request?: string; limit?: string } {
  const parts = (text ?? '').split(',');
  const quantity = /^(\d+(\.\d+)?(m|Ki|Mi|Gi|k|M|G)?)?$/;
  if (parts.length !== 2 || !parts.every((p) => quantity.test(p)))
    throw new OptionsError(
      `--${name} must be request,limit quantities (e.g. 50m,1 or 64Mi,256Mi; empty for unset)`,
    );
  const [request, limit] = parts as [string, string];
  return { ...(request === '' ? {} : { request }), ...(limit === '' ? {} : { limit }) };
}

function parsePorts(text: string): InstallationSettings['ports'] {
  const ports: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [key, value] = part.split('=');
    const port = Number(value);
    if (
      key === undefined ||
      !['admin', 'inbound', 'outbound', 'raft'].includes(key) ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535
    )
      throw new OptionsError(
        `--sidecar-ports: '${part}' must be admin|inbound|outbound|raft=<port>`,
      );
    ports[key] = port;
  }
  const { admin, inbound, outbound, raft } = ports;
  if (admin === undefined || inbound === undefined || outbound === undefined || raft === undefined)
    throw new OptionsError('--sidecar-ports needs admin, inbound, outbound and raft');
  if (new Set([admin, inbound, outbound, raft]).size !== 4)
    throw new OptionsError('--sidecar-ports must all differ');
  return { admin, inbound, outbound, raft };
}

function port(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new OptionsError(`--${name} must be a port (1-65535)`);
  return n;
}

function webhookPath(text: string | undefined): string {
  if (text === undefined || !/^\/[A-Za-z0-9._~/-]{0,200}$/.test(text))
    throw new OptionsError('--webhook-path must be an absolute URL path like /mutate');
  return text;
}

function certificateMode(text: string | undefined): 'operator' | 'cert-manager' {
  if (text === 'operator' || text === 'cert-manager') return text;
  throw new OptionsError('--webhook-cert-mode must be operator or cert-manager');
}

/**
 * The installation file (the chart's `installation.yaml`: InstallationSettings plus a
 * `sidecar` block) as option values, so that one set of validators checks flags, env and file.
 * Unknown keys are refused by name.
 */
export function installationFileOptions(text: string): Map<string, string> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new OptionsError(`--config: not YAML: ${(error as Error).message}`);
  }
  const out = new Map<string, string>();
  if (doc === null || doc === undefined) return out;
  const obj = (value: unknown, where: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new OptionsError(`--config: ${where} must be a mapping`);
    for (const key of Object.keys(value))
      if (!keys.includes(key)) throw new OptionsError(`--config: unknown field ${where}.${key}`);
    return value as Record<string, unknown>;
  };
  const str = (value: unknown): string | undefined =>
    value === undefined || value === null ? undefined : String(value);
  const set = (name: string, value: unknown) => {
    const v = str(value);
    if (v !== undefined && v !== '') out.set(name, v);
  };
  const root = obj(doc, 'settings', [
    'ports',
    'app',
    'logLevel',
    'tracing',
    'redis',
    'raft',
    'sidecar',
  ]);
  if (root['ports'] !== undefined) {
    const p = obj(root['ports'], 'ports', ['admin', 'inbound', 'outbound', 'raft']);
    set(
      'sidecar-ports',
      Object.entries(p)
        .map(([k, v]) => `${k}=${str(v)}`)
        .join(','),
    );
  }
  if (root['app'] !== undefined)
    set('app-default-port', obj(root['app'], 'app', ['host', 'defaultPort'])['defaultPort']);
  set('sidecar-log-level', root['logLevel']);
  if (root['tracing'] !== undefined) {
    const t = obj(root['tracing'], 'tracing', ['sampleRatio', 'otlpEndpoint']);
    set('trace-ratio', t['sampleRatio']);
    set('otlp-endpoint', t['otlpEndpoint']);
  }
  if (root['redis'] !== undefined) {
    const r = obj(root['redis'], 'redis', ['url', 'timeout']);
    set('redis-url', r['url']);
    set('redis-timeout', r['timeout']);
  }
  if (root['sidecar'] !== undefined) {
    const s = obj(root['sidecar'], 'sidecar', [
      'image',
      'imagePullPolicy',
      'imagePullSecrets',
      'resources',
      'clusterRole',
      'args',
    ]);
    set('sidecar-image', s['image']);
    set('sidecar-pull-policy', s['imagePullPolicy']);
    set('sidecar-cluster-role', s['clusterRole']);
    if (Array.isArray(s['args'])) set('sidecar-args', s['args'].map(String).join(','));
    if (s['resources'] !== undefined) {
      const r = obj(s['resources'], 'sidecar.resources', ['requests', 'limits']);
      const req = obj(r['requests'] ?? {}, 'sidecar.resources.requests', ['cpu', 'memory']);
      const lim = obj(r['limits'] ?? {}, 'sidecar.resources.limits', ['cpu', 'memory']);
      // The file's resources are the whole spec: what it leaves out stays unset.
      set('sidecar-cpu', `${str(req['cpu']) ?? ''},${str(lim['cpu']) ?? ''}`);
      set('sidecar-memory', `${str(req['memory']) ?? ''},${str(lim['memory']) ?? ''}`);
    }
  }
  return out;
}
