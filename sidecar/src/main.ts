/**
 * The sidecar: `palisade-sidecar --config sidecar.yaml` (standalone, the file is watched) or
 * `palisade-sidecar --kubernetes` (in a pod: the operator's ConfigMaps are watched). The one
 * place where the parts are assembled: config store and its source, logging, metrics, tracing,
 * the compiled route tables of both proxies, the Redis connections of global rate limits, the
 * admin API, the probe listener, and shutdown. Nothing here runs at import time; `runCli` (the
 * bin) and `startSidecar` (tests, embedding) do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  DEFAULT_PROBE_PORT,
  HealthChecks,
  configLoadedCheck,
  createAdminServer,
  createProbeServer,
  tcpConnectCheck,
  type ProbeServer,
} from './admin/index.js';
import {
  ConfigError,
  ConfigStore,
  loadConfigFile,
  validateConfigDocument,
  watchConfigFile,
  type ConfigWatcher,
  type ResolvedConfig,
} from './config/index.js';
import {
  KubeConfigSource,
  createKubeConfigMapClient,
  noPolicyDocument,
  type PodConfigDecision,
  type PodIdentity,
} from './kube-config/index.js';
import { systemClock, type Clock } from './core/clock.js';
import { SeededRandom, systemRandom, type Random } from './core/random.js';
import { createLogging, logLevelApplier, type Logging } from './logging/index.js';
import { Metrics } from './metrics/index.js';
import { RedisClients, RouteCompiler, type CompiledRouteTables } from './policies/index.js';
import { RaftGroupRunner } from './raft-group/index.js';
import { InboundServer, OutboundServer, Pipeline } from './proxy/index.js';
import { createTracing, tracingOptionsFromConfig, type Tracing } from './tracing/index.js';

/** `service.name` of the sidecar's spans. */
export const SERVICE_NAME = 'palisade-sidecar';

/** Exit codes of the CLI. */
export const EXIT_CODES = Object.freeze({
  /** Stopped cleanly (signal), or `--help`. */
  ok: 0,
  /** The config could not be loaded, or start-up failed (e.g. a port in use). */
  startFailed: 1,
  /** The command line is wrong. */
  usage: 2,
});

/** Default time in-flight requests get to finish after SIGTERM before connections are cut. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 15_000;

/** Default time start-up waits for the first ConfigMap list in Kubernetes mode. */
export const DEFAULT_INITIAL_LIST_TIMEOUT_MS = 10_000;

/** Kubernetes mode: where the config comes from and who this pod is. */
export interface KubernetesModeOptions {
  /** A kubeconfig file (out-of-cluster runs, tests); absent: the pod's service account. */
  readonly kubeconfigPath?: string;
  /** The pod's namespace (`POD_NAMESPACE`): its ConfigMaps are watched. */
  readonly namespace: string;
  /** Name (`POD_NAME`, also `raft.id`), app port, listener ports fixed by the pod spec. */
  readonly pod: PodIdentity;
  /**
   * How long start-up waits for the first list before starting with the no-policy config
   * (readiness then fails until a list succeeds). Default 10 s.
   */
  readonly initialListTimeoutMs?: number;
}

/** Options of `startSidecar`: exactly one of `configPath` and `kubernetes`. */
export interface SidecarOptions {
  /** Path of the SidecarConfig file (YAML, or JSON for `.json`); watched for changes. */
  readonly configPath?: string;
  /** Kubernetes mode: watch the operator's ConfigMaps instead of a file. */
  readonly kubernetes?: KubernetesModeOptions;
  /**
   * Port of the read-only probe listener (`/livez`, `/readyz`, `/metrics` on 0.0.0.0).
   * Default: 15020 in Kubernetes mode, none standalone. 0 picks a free port.
   */
  readonly probePort?: number;
  /** Seed of the random source (fault sampling, jitter); absent: `Math.random`. */
  readonly seed?: number;
  /** How long requests in flight may take to finish at shutdown. */
  readonly shutdownGraceMs?: number;
  /** How often the config file is re-read even without a file event. Default 5000 ms. */
  readonly pollIntervalMs?: number;
  readonly clock?: Clock;
}

/** A running sidecar. */
export interface RunningSidecar {
  readonly logging: Logging;
  readonly store: ConfigStore;
  readonly metrics: Metrics;
  /** Bound ports (`probe` when the probe listener runs). */
  readonly ports: {
    readonly inbound: number;
    readonly outbound: number;
    readonly admin: number;
    readonly probe?: number;
  };
  /** Drains and stops everything; idempotent. */
  shutdown(reason: string): Promise<void>;
}

/** What the command line asked for. */
export type CliCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly options: SidecarOptions }
  | { readonly kind: 'usage-error'; readonly message: string };

/** Help text of `--help`. */
export const USAGE = `Usage: palisade-sidecar --config <file> [options]
       palisade-sidecar --kubernetes [--kubeconfig <file>] [options]

Runs the Palisade sidecar from a SidecarConfig file (YAML, or JSON for .json files) and
reloads it whenever the file changes; or, in a pod, from the config the operator delivers in
the ConfigMaps of the pod's namespace (POD_NAME and POD_NAMESPACE from the environment).

Options:
  -c, --config <file>        SidecarConfig to enforce
      --kubernetes           watch the operator's ConfigMaps instead (needs POD_NAME, POD_NAMESPACE)
      --kubeconfig <file>    with --kubernetes: API server credentials (default: service account)
      --app-port <port>      with --kubernetes: the app's port until a config names it [PALISADE_APP_PORT]
      --admin-port, --inbound-port, --outbound-port, --raft-port <port>
                             with --kubernetes: listener ports fixed by the pod spec; they override
                             the delivered ones [PALISADE_ADMIN_PORT, …]
      --probe-port <port>    read-only /livez /readyz /metrics on 0.0.0.0 (default ${DEFAULT_PROBE_PORT} with
                             --kubernetes, none otherwise) [PALISADE_PROBE_PORT with --kubernetes]
      --seed <integer>       seed the random source (fault sampling, jitter) for replayable runs
      --shutdown-grace <ms>  time in-flight requests get to finish on SIGTERM (default ${DEFAULT_SHUTDOWN_GRACE_MS})
  -h, --help                 show this help

Flags win over the environment variables in brackets (read in Kubernetes mode only).
Exit codes: 0 stopped by SIGTERM/SIGINT, 1 config invalid or start-up failed, 2 bad arguments.
`;

/** Port flags and the environment variable each falls back to in Kubernetes mode. */
const PORT_FLAGS = {
  '--app-port': 'PALISADE_APP_PORT',
  '--admin-port': 'PALISADE_ADMIN_PORT',
  '--inbound-port': 'PALISADE_INBOUND_PORT',
  '--outbound-port': 'PALISADE_OUTBOUND_PORT',
  '--raft-port': 'PALISADE_RAFT_PORT',
  '--probe-port': 'PALISADE_PROBE_PORT',
} as const;
type PortFlag = keyof typeof PORT_FLAGS;

/**
 * Parses the command line (without `node` and the script). `env` is read in Kubernetes mode
 * only: pod identity (`POD_NAME`, `POD_NAMESPACE`) and the port variables of `USAGE`.
 */
export function parseArguments(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): CliCommand {
  let configPath: string | undefined;
  let kubernetes = false;
  let kubeconfigPath: string | undefined;
  const portFlags: Partial<Record<PortFlag, string>> = {};
  let seed: number | undefined;
  let shutdownGraceMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string | null => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) return null;
      i++;
      return next;
    };
    switch (name) {
      case '-h':
      case '--help':
        return { kind: 'help' };
      case '-c':
      case '--config': {
        const v = value();
        if (v === null || v === '') return usageError(`${name} needs a file path`);
        configPath = v;
        break;
      }
      case '--seed': {
        const v = value();
        if (v === null || !/^[0-9]{1,10}$/.test(v))
          return usageError('--seed needs an integer ≥ 0');
        seed = Number(v);
        break;
      }
      case '--shutdown-grace': {
        const v = value();
        if (v === null || !/^[0-9]{1,9}$/.test(v))
          return usageError('--shutdown-grace needs milliseconds');
        shutdownGraceMs = Number(v);
        break;
      }
      case '--kubernetes':
        if (inline !== undefined) return usageError('--kubernetes takes no value');
        kubernetes = true;
        break;
      case '--kubeconfig': {
        const v = value();
        if (v === null || v === '') return usageError('--kubeconfig needs a file path');
        kubeconfigPath = v;
        break;
      }
      case '--app-port':
      case '--admin-port':
      case '--inbound-port':
      case '--outbound-port':
      case '--raft-port':
      case '--probe-port': {
        const v = value();
        if (v === null) return usageError(`${name} needs a port`);
        portFlags[name] = v;
        break;
      }
      default:
        return usageError(`unknown argument "${arg}"`);
    }
  }
  const ports: Partial<Record<PortFlag, number>> = {};
  for (const flag of Object.keys(PORT_FLAGS) as PortFlag[]) {
    const text = portFlags[flag] ?? (kubernetes ? env[PORT_FLAGS[flag]] : undefined);
    if (text === undefined || text === '') continue;
    const port = parsePort(text);
    if (port === null)
      return usageError(
        `${portFlags[flag] === undefined ? PORT_FLAGS[flag] : flag} must be a port (0-65535), got "${text.slice(0, 20)}"`,
      );
    ports[flag] = port;
  }
  const common = { seed, shutdownGraceMs, probePort: ports['--probe-port'] };
  if (!kubernetes) {
    if (configPath === undefined)
      return usageError('--config <file> is required (or --kubernetes)');
    const misplaced = Object.keys(portFlags).find((flag) => flag !== '--probe-port');
    if (kubeconfigPath !== undefined || misplaced !== undefined)
      return usageError(`${misplaced ?? '--kubeconfig'} is only for --kubernetes`);
    return { kind: 'run', options: { configPath, ...common } };
  }
  if (configPath !== undefined) return usageError('--config and --kubernetes exclude each other');
  const podName = env['POD_NAME'];
  const namespace = env['POD_NAMESPACE'];
  if (podName === undefined || podName === '' || namespace === undefined || namespace === '')
    return usageError('--kubernetes needs POD_NAME and POD_NAMESPACE (downward API)');
  const appPort = ports['--app-port'];
  if (appPort === undefined || appPort === 0)
    return usageError('--kubernetes needs the app port: --app-port or PALISADE_APP_PORT');
  const pod: PodIdentity = {
    podName,
    appPort,
    listeners: {
      admin: ports['--admin-port'],
      inbound: ports['--inbound-port'],
      outbound: ports['--outbound-port'],
      raft: ports['--raft-port'],
    },
  };
  return {
    kind: 'run',
    options: { kubernetes: { kubeconfigPath, namespace, pod }, ...common },
  };
}

function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

function usageError(message: string): CliCommand {
  return { kind: 'usage-error', message };
}

/**
 * Loads the config and starts everything. Throws `ConfigError` when the file is unusable, and
 * any listen error (after closing what was already started).
 */
export async function startSidecar(options: SidecarOptions): Promise<RunningSidecar> {
  const clock = options.clock ?? systemClock;
  const random: Random = options.seed === undefined ? systemRandom : new SeededRandom(options.seed);
  const initialConfig = await loadInitialConfig(options, random);
  const config = initialConfig.config;
  const logging = createLogging({ level: config.logLevel });
  const log = logging.child('sidecar');
  const metrics = new Metrics();
  const store = new ConfigStore({
    initial: config,
    logger: logging.child('config'),
    recorder: metrics.config,
  });
  // A delivered config refused at start: the no-policy config runs, the refusal shows.
  if (initialConfig.refused !== undefined) store.reject(initialConfig.refused);
  const kube = initialConfig.kube;
  if (kube !== undefined) kube.connect(store, logging.child('kubernetes'));
  let tracing: Tracing = createTracing(tracingOptionsFromConfig(config.tracing, SERVICE_NAME));
  const redisLog = logging.child('redis');
  let redisLogAt = -Infinity;
  const redis = new RedisClients({
    onConnectionError: (url, error) => {
      const now = clock.now();
      if (now - redisLogAt < 5000) return; // reconnect attempts fail every few ms while down
      redisLogAt = now;
      redisLog.warn({ url, err: error }, 'rate-limit Redis connection failed; reconnecting');
    },
  });
  const compiler = new RouteCompiler({
    clock,
    random,
    metrics,
    redis,
    logger: logging.child('policies'),
  });
  const initial = compiler.compile(config, tracing);
  compiler.commit(initial);
  const inboundPipeline = new Pipeline(initial.inbound);
  const outboundPipeline = new Pipeline(initial.outbound);

  store.register(logLevelApplier(logging));
  store.register({
    name: 'routes',
    prepare(next, change, previous) {
      const sections = change.sections;
      if (sections.includes('app')) {
        log.warn(
          { app: next.app, inForce: previous.app },
          'app address changed: it takes effect at the next restart',
        );
      }
      const relevant = [
        'rateLimits',
        'circuitBreakers',
        'faults',
        'retries',
        'redis',
        'tracing',
      ] as const;
      if (!relevant.some((section) => sections.includes(section))) return;
      // Tracing is rebuilt here rather than by `tracingApplier`: the observe filters compiled
      // below must hold the new tracing, and appliers only swap at commit time.
      const fresh = sections.includes('tracing')
        ? createTracing(tracingOptionsFromConfig(next.tracing, SERVICE_NAME))
        : null;
      let compiled: CompiledRouteTables;
      try {
        compiled = compiler.compile(next, fresh ?? tracing);
      } catch (error) {
        void fresh?.shutdown();
        throw error;
      }
      return () => {
        compiler.commit(compiled);
        inboundPipeline.setRoutes(compiled.inbound);
        outboundPipeline.setRoutes(compiled.outbound);
        if (fresh !== null) {
          const old = tracing;
          tracing = fresh;
          // Spans of requests in flight at the swap still end on the old tracing.
          setTimeout(() => void old.shutdown().catch(() => undefined), 30_000).unref();
        }
      };
    },
  });

  let draining = false;
  const checks = new HealthChecks();
  checks.register({ name: 'config', check: configLoadedCheck(store) });
  checks.register({ name: 'rate-limit-redis', readiness: false, check: () => redis.check() });
  checks.register({ name: 'app', check: tcpConnectCheck({ target: () => store.config.app }) });
  if (kube !== undefined) {
    checks.register({
      name: 'kubernetes',
      check: () => {
        if (!kube.source.hasSynced())
          throw new Error('no ConfigMap list from the API server yet: policies unknown');
        return `watching the config ConfigMaps of namespace ${kube.namespace}`;
      },
    });
  }
  checks.register({
    name: 'shutdown',
    check: () => {
      if (draining) throw new Error('shutting down: draining requests in flight');
      return 'serving';
    },
  });

  const inbound = new InboundServer({
    app: config.app,
    port: config.listeners.inbound,
    pipeline: inboundPipeline,
    clock,
  });
  const outbound = new OutboundServer({
    host: '127.0.0.1',
    port: config.listeners.outbound,
    pipeline: outboundPipeline,
    clock,
  });
  const admin = createAdminServer({ store, metrics, checks, logger: logging.child('admin') });
  const probePort = options.probePort ?? (kube === undefined ? undefined : DEFAULT_PROBE_PORT);
  const probe: ProbeServer | null =
    probePort === undefined
      ? null
      : createProbeServer({ checks, metrics, port: probePort, logger: logging.child('probe') });
  let watcher: ConfigWatcher | null = null;
  // In a pod, "raft joined" is not part of readiness: the operator picks voters among Ready
  // pods, so a pod that waited for a leader before being Ready would wait forever.
  const raftGroup = new RaftGroupRunner({
    readiness: kube === undefined,
    checks,
    tracing: () => tracing,
    metrics,
    logger: logging.child('raft'),
    sagasLogger: logging.child('sagas'),
    clock,
    random,
    onFatal: () => void closeAll(0).finally(() => process.exit(1)),
  });
  store.register(raftGroup.applier);

  const closeAll = async (graceMs: number): Promise<void> => {
    watcher?.close();
    await kube?.source.stop();
    await Promise.all([
      inbound.server.listening ? inbound.shutdown(graceMs) : Promise.resolve(),
      outbound.server.listening ? outbound.shutdown(graceMs) : Promise.resolve(),
    ]);
    await probe?.close();
    await admin.close();
    await raftGroup.stop();
    await redis.close();
    await tracing.shutdown().catch(() => undefined);
  };

  let ports: RunningSidecar['ports'];
  try {
    await redis.waitReady(1000);
    // Leases and sagas run while the config has a raft section (at start or from a later
    // config); their API lives on the admin server. Must be in place before the first request.
    admin.mount('/v1', raftGroup.router);
    admin.intercept(raftGroup.httpHandler);
    await raftGroup.start(store.config);
    const [inboundPort, outboundPort, adminAddress, probeAddress] = await Promise.all([
      inbound.listen(),
      outbound.listen(),
      admin.listen(),
      probe?.listen(),
    ]);
    ports = {
      inbound: inboundPort,
      outbound: outboundPort,
      admin: adminAddress.port,
      ...(probeAddress === undefined ? {} : { probe: probeAddress.port }),
    };
  } catch (error) {
    await closeAll(0);
    throw error;
  }
  if (options.configPath !== undefined) {
    watcher = watchConfigFile({
      path: options.configPath,
      store,
      initialHash: initialConfig.contentHash,
      pollIntervalMs: options.pollIntervalMs,
    });
  }
  log.info(
    {
      version: config.version,
      ...(kube === undefined
        ? { configPath: options.configPath }
        : {
            kubernetes: {
              namespace: kube.namespace,
              pod: options.kubernetes?.pod.podName,
              listed: kube.source.hasSynced(),
            },
          }),
      listeners: {
        inbound: `0.0.0.0:${ports.inbound}`,
        outbound: `127.0.0.1:${ports.outbound}`,
        admin: `127.0.0.1:${ports.admin}`,
        ...(ports.probe === undefined ? {} : { probe: `0.0.0.0:${ports.probe}` }),
      },
      app: `${config.app.host}:${config.app.port}`,
      routes: initial.routeNames,
      policies: {
        rateLimits: config.rateLimits.length,
        circuitBreakers: config.circuitBreakers.length,
        faults: config.faults.length,
        retries: config.retries !== undefined,
      },
      tracing: tracing.enabled,
      seed: options.seed,
    },
    `palisade-sidecar started with config version ${config.version}`,
  );

  let stopping: Promise<void> | null = null;
  return {
    logging,
    store,
    metrics,
    ports,
    shutdown(reason) {
      stopping ??= (async () => {
        draining = true;
        const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
        log.info({ reason, graceMs }, 'shutting down: draining requests in flight');
        const started = clock.now();
        await closeAll(graceMs);
        log.info({ durationMs: Math.round(clock.now() - started) }, 'palisade-sidecar stopped');
      })();
      return stopping;
    },
  };
}

/** The config a sidecar starts with, and in Kubernetes mode the source of the next ones. */
interface InitialConfig {
  readonly config: ResolvedConfig;
  /** File mode: SHA-256 of the file's bytes (the watcher's starting point). */
  readonly contentHash?: string;
  /** A delivered config refused at start-up (the no-policy config runs instead). */
  readonly refused?: ConfigError;
  readonly kube?: KubernetesBoot;
}

/** Kubernetes mode's running source, waiting to be connected to the store. */
interface KubernetesBoot {
  readonly namespace: string;
  readonly source: KubeConfigSource;
  /** From now on, every new decision goes to `store` (and is logged). */
  connect(store: ConfigStore, logger: Logger): void;
}

/** Reads the file, or (Kubernetes mode) starts the ConfigMap watch and takes its first decision. */
async function loadInitialConfig(options: SidecarOptions, random: Random): Promise<InitialConfig> {
  const kube = options.kubernetes;
  if (kube === undefined) {
    if (options.configPath === undefined)
      throw new Error('startSidecar needs configPath or kubernetes');
    const loaded = await loadConfigFile(options.configPath);
    return { config: loaded.config, contentHash: loaded.contentHash };
  }
  const client = await createKubeConfigMapClient({
    kubeconfigPath: kube.kubeconfigPath,
    namespace: kube.namespace,
    random,
  });
  let deliver: ((decision: PodConfigDecision) => void) | null = null;
  let reportError: (error: unknown, retryInMs: number) => void = () => undefined;
  let firstError: unknown = null;
  const source = new KubeConfigSource({
    client,
    namespace: kube.namespace,
    pod: kube.pod,
    random,
    onDecision: (decision) => deliver?.(decision),
    onError: (error, retryInMs) => {
      firstError ??= error;
      reportError(error, retryInMs);
    },
  });
  await source.start(kube.initialListTimeoutMs ?? DEFAULT_INITIAL_LIST_TIMEOUT_MS);
  const first = source.current();
  const noPolicy = (): ResolvedConfig =>
    validateConfigDocument(noPolicyDocument(kube.pod), 'no-policy config');
  let config: ResolvedConfig;
  let refused: ConfigError | undefined;
  if (first.kind === 'invalid') {
    refused = first.error;
    config = noPolicy();
  } else {
    try {
      config = validateConfigDocument(first.document, first.source);
    } catch (error) {
      refused = error as ConfigError;
      config = noPolicy();
    }
  }
  return {
    config,
    refused,
    kube: {
      namespace: kube.namespace,
      source,
      connect(store, logger) {
        if (!source.hasSynced())
          logger.warn(
            { err: firstError },
            'no ConfigMap list yet: enforcing no policy until the API server answers',
          );
        reportError = (error, retryInMs) =>
          logger.warn(
            { err: error, retryInMs },
            'ConfigMap watch failed; keeping the config in force',
          );
        deliver = (decision) => {
          if (decision.kind === 'invalid') {
            store.reject(decision.error);
            return;
          }
          logger.info(
            decision.kind === 'config'
              ? { source: decision.source, configMap: decision.name, epoch: decision.epoch }
              : { source: decision.source },
            decision.kind === 'config'
              ? 'config map selected'
              : 'no config map lists this pod: enforcing no policy',
          );
          void store.apply(decision.document, decision.source);
        };
        // A change between the first decision and now was not delivered to anyone.
        const now = source.current();
        if (now.source !== first.source) deliver(now);
      },
    },
  };
}

/** Where the CLI writes what is not a log line (help, usage errors, fatal start-up errors). */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Registers a handler for SIGTERM and SIGINT. */
  readonly onSignal: (handler: (signal: NodeJS.Signals) => void) => void;
}

/** The process's streams and signals. */
export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  onSignal: (handler) => {
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  },
};

/**
 * Runs the CLI: resolves with the exit code once the sidecar has stopped (after a signal), or
 * at once for `--help`, bad arguments and start-up failures. A second signal during the drain
 * exits at once.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo = processIo,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  const command = parseArguments(argv, env);
  if (command.kind === 'help') {
    io.stdout(USAGE);
    return EXIT_CODES.ok;
  }
  if (command.kind === 'usage-error') {
    io.stderr(`palisade-sidecar: ${command.message}\n\n${USAGE}`);
    return EXIT_CODES.usage;
  }
  let sidecar: RunningSidecar;
  try {
    sidecar = await startSidecar(command.options);
  } catch (error) {
    io.stderr(`palisade-sidecar: ${describeStartError(error)}\n`);
    return EXIT_CODES.startFailed;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    let received: NodeJS.Signals | null = null;
    io.onSignal((s) => {
      if (received !== null) {
        sidecar.logging.root.warn({ signal: s }, 'second signal: exiting without draining');
        sidecar.logging.root.flush();
        process.exit(EXIT_CODES.startFailed);
      }
      received = s;
      resolve(s);
    });
  });
  await sidecar.shutdown(signal);
  // Let the async log destination write its last lines.
  sidecar.logging.root.flush();
  await sleep(10);
  return EXIT_CODES.ok;
}

/** One readable message for a start-up failure (config errors list every field problem). */
export function describeStartError(error: unknown): string {
  // A ConfigError's message already lists every field problem, one per line.
  if (error instanceof ConfigError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
