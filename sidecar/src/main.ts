/**
 * Standalone sidecar: `palisade-sidecar --config sidecar.yaml`. The one place where the parts
 * are assembled: config store and watcher, logging, metrics, tracing, the compiled route tables
 * of both proxies, the Redis connections of global rate limits, the admin API, and shutdown.
 * Nothing here runs at import time; `runCli` (the bin) and `startSidecar` (tests, embedding) do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  HealthChecks,
  configLoadedCheck,
  createAdminServer,
  tcpConnectCheck,
} from './admin/index.js';
import {
  ConfigError,
  ConfigStore,
  loadConfigFile,
  watchConfigFile,
  type ConfigWatcher,
} from './config/index.js';
import { systemClock, type Clock } from './core/clock.js';
import { SeededRandom, systemRandom, type Random } from './core/random.js';
import { createLogging, logLevelApplier, type Logging } from './logging/index.js';
import { Metrics } from './metrics/index.js';
import { RedisClients, RouteCompiler, type CompiledRouteTables } from './policies/index.js';
import {
  raftPartitionApplier,
  raftPeersApplier,
  startRaftNode,
  type StartedRaftNode,
} from './raft-node/index.js';
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

/** Options of `startSidecar`. */
export interface SidecarOptions {
  /** Path of the SidecarConfig file (YAML, or JSON for `.json`); watched for changes. */
  readonly configPath: string;
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
  /** Bound ports. */
  readonly ports: { readonly inbound: number; readonly outbound: number; readonly admin: number };
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

Runs the Palisade sidecar from a SidecarConfig file (YAML, or JSON for .json files) and
reloads it whenever the file changes.

Options:
  -c, --config <file>        SidecarConfig to enforce (required)
      --seed <integer>       seed the random source (fault sampling, jitter) for replayable runs
      --shutdown-grace <ms>  time in-flight requests get to finish on SIGTERM (default ${DEFAULT_SHUTDOWN_GRACE_MS})
  -h, --help                 show this help

Exit codes: 0 stopped by SIGTERM/SIGINT, 1 config invalid or start-up failed, 2 bad arguments.
`;

/** Parses the command line (without `node` and the script). */
export function parseArguments(argv: readonly string[]): CliCommand {
  let configPath: string | undefined;
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
      default:
        return usageError(`unknown argument "${arg}"`);
    }
  }
  if (configPath === undefined) return usageError('--config <file> is required');
  return { kind: 'run', options: { configPath, seed, shutdownGraceMs } };
}

function usageError(message: string): CliCommand {
  return { kind: 'usage-error', message };
}

/**
 * Loads the config and starts everything. Throws `ConfigError` when the file is unusable, and
 * any listen error (after closing what was already started).
 */
export async function startSidecar(options: SidecarOptions): Promise<RunningSidecar> {
  const loaded = await loadConfigFile(options.configPath);
  const config = loaded.config;
  const clock = options.clock ?? systemClock;
  const random: Random = options.seed === undefined ? systemRandom : new SeededRandom(options.seed);
  const logging = createLogging({ level: config.logLevel });
  const log = logging.child('sidecar');
  const metrics = new Metrics();
  const store = new ConfigStore({
    initial: config,
    logger: logging.child('config'),
    recorder: metrics.config,
  });
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
  checks.register({ name: 'app', check: tcpConnectCheck({ target: () => store.config.app }) });
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
  let watcher: ConfigWatcher | null = null;
  let raft: StartedRaftNode | null = null;

  const closeAll = async (graceMs: number): Promise<void> => {
    watcher?.close();
    await Promise.all([
      inbound.server.listening ? inbound.shutdown(graceMs) : Promise.resolve(),
      outbound.server.listening ? outbound.shutdown(graceMs) : Promise.resolve(),
    ]);
    await admin.close();
    await raft?.stop();
    await redis.close();
    await tracing.shutdown().catch(() => undefined);
  };

  let ports: RunningSidecar['ports'];
  try {
    await redis.waitReady(1000);
    // The Raft group (leases, later sagas) runs only where the config has a raft section; its
    // API lives on the admin server and its readiness is part of /readyz.
    if (config.raft !== undefined) {
      raft = await startRaftNode({
        config: config.raft,
        listenPort: config.listeners.raft,
        metrics,
        logger: logging.child('raft'),
        clock,
        onFatal: () => void closeAll(0).finally(() => process.exit(1)),
      });
      checks.register(raft.readinessCheck);
      store.register(raftPeersApplier(raft));
      store.register(raftPartitionApplier(raft, config));
      admin.mount('/v1', raft.router);
    }
    const [inboundPort, outboundPort, adminAddress] = await Promise.all([
      inbound.listen(),
      outbound.listen(),
      admin.listen(),
    ]);
    ports = { inbound: inboundPort, outbound: outboundPort, admin: adminAddress.port };
  } catch (error) {
    await closeAll(0);
    throw error;
  }
  watcher = watchConfigFile({
    path: options.configPath,
    store,
    initialHash: loaded.contentHash,
    pollIntervalMs: options.pollIntervalMs,
  });
  log.info(
    {
      version: config.version,
      configPath: options.configPath,
      listeners: {
        inbound: `0.0.0.0:${ports.inbound}`,
        outbound: `127.0.0.1:${ports.outbound}`,
        admin: `127.0.0.1:${ports.admin}`,
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
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const command = parseArguments(argv);
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
