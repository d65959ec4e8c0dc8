/**
 * `palisade-operator`: the one place where the parts are wired to real I/O — options, logger,
 * informers and the API client, leader election, the controllers, the health/metrics server,
 * the injection webhook and its certificates, and shutdown. See docs/operator.md.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { KubeApiClient } from './adapters/kube-api-client.js';
import { KubeEventRecorder } from './adapters/kube-event-recorder.js';
import { pingRedis } from './adapters/redis-ping.js';
import type { PolicyKind } from './compiler/types.js';
import { systemScheduler, type Scheduler } from './core/clock.js';
import { systemRandom } from './core/random.js';
import { createKubeInformers } from './informer/kube-informers.js';
import { LeaderElector } from './leader/leader-elector.js';
import { KubeLeaseLock } from './leader/lease-lock.js';
import { Operator, type EventSource } from './operator.js';
import { InstallationOwner } from './reconcilers/installation-owner.js';
import { RedisHealth } from './reconcilers/redis-health.js';
import { OptionsError, USAGE, parseOptions, type OperatorRuntimeOptions } from './options.js';
import { HealthServer } from './server/health-server.js';
import { OperatorMetrics } from './server/metrics.js';
import { CertificateManager } from './webhook/certificate-manager.js';
import { WebhookServer } from './webhook/webhook-server.js';

/** A Redis that does not answer PING within this long counts as unavailable. */
const REDIS_PING_TIMEOUT_MS = 1000;
/** Exit codes of the command. */
export const EXIT = { ok: 0, failed: 1, usage: 2, lostLease: 3 } as const;

/** A started operator process (without signal handling: `runCli` adds that). */
export interface RunningOperator {
  /** Ports actually bound (useful with port 0). */
  ports: { health: number; webhook?: number };
  /** Resolves with the exit code once the process should exit (lost lease, fatal error). */
  done: Promise<number>;
  /** Graceful stop: queues drain, Lease released, servers closed. Idempotent. */
  shutDown(reason: string): Promise<void>;
}

/** Loads a kubeconfig file, else the in-cluster service account. */
export function loadKubeConfig(
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path !== undefined) kubeConfig.loadFromFile(path);
  else if (env['KUBERNETES_SERVICE_HOST'] !== undefined) kubeConfig.loadFromCluster();
  else
    throw new OptionsError(
      'no --kubeconfig given and not running in a cluster (KUBERNETES_SERVICE_HOST unset)',
    );
  return kubeConfig;
}

/** Starts everything `options` asks for. */
export async function startOperator(
  options: OperatorRuntimeOptions,
  deps: { kubeConfig: KubeConfig; logger: Logger; scheduler?: Scheduler },
): Promise<RunningOperator> {
  const { kubeConfig, logger } = deps;
  const scheduler = deps.scheduler ?? systemScheduler;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const informers = createKubeInformers({
    kubeConfig,
    scheduler,
    ...(options.watchNamespace === undefined ? {} : { namespace: options.watchNamespace }),
    onError: (informer, error, restartInMs) =>
      logger.warn({ informer, err: errorText(error), restartInMs }, 'informer error, restarting'),
  });
  const api = new KubeApiClient(kubeConfig, {
    pods: informers.pods,
    configMaps: informers.configMaps,
    kinds: informers.kinds,
  });
  let elector: LeaderElector | undefined;
  // The owner of everything the operator creates at run time (decision 0018): the webhook
  // configuration `helm uninstall` deletes. An operator without a webhook writes no owner.
  const owner = new InstallationOwner({
    name: options.webhook.enabled ? options.webhook.configurationName : undefined,
    lookup: (name) => api.getWebhookConfigurationUid(name),
    scheduler,
    onChange: (reference) => {
      logger.info({ owner: reference.name, uid: reference.uid }, 'installation owner');
      operator.ownerChanged();
    },
    onError: (error) =>
      logger.warn({ err: errorText(error) }, 'installation owner lookup failed; retrying'),
  });
  const operator = new Operator({
    api,
    sources: {
      pods: informers.pods as EventSource,
      configMaps: informers.configMaps as EventSource,
      kinds: informers.kinds as ReadonlyMap<PolicyKind, EventSource>,
      roleBindings: informers.roleBindings as EventSource,
    },
    installation: options.installation,
    sidecarClusterRole: options.sidecarClusterRole,
    owners: () => owner.references(),
    scheduler,
    random: systemRandom,
    redis: new RedisHealth({
      check: (url) => pingRedis(url, REDIS_PING_TIMEOUT_MS),
      clock: scheduler,
    }),
    events: new KubeEventRecorder(kubeConfig, options.identity, (error) =>
      logger.warn({ err: errorText(error) }, 'event not recorded'),
    ),
    sagas: {
      onScrapeFailed: ({ saga, reason, level }) =>
        logger[level](
          { saga, reason },
          'saga instance counts not read; status keeps the last ones',
        ),
    },
    onReconciled: (controller, key, outcome, durationMs) => {
      metrics.reconciled(controller, outcome, durationMs);
      if (outcome.result === 'success') logger.debug({ controller, key, durationMs }, 'reconciled');
      else
        logger.warn(
          { controller, key, durationMs, result: outcome.result, err: errorText(outcome.error) },
          'reconcile failed',
        );
    },
  });
  // The reconcile hook above uses `metrics` only once workers run, after this line.
  const metrics = new OperatorMetrics({
    queueDepths: () => operator.queueDepths(),
    isLeader: () => (elector === undefined ? true : elector.leaderState === 'leader'),
  });

  let webhookServer: WebhookServer | undefined;
  let certificates: CertificateManager | undefined;
  let webhookPort: number | undefined;
  if (options.webhook.enabled) {
    const webhook = options.webhook;
    let pending: { cert: string; key: string } | undefined;
    certificates = new CertificateManager({
      kubeConfig,
      namespace: options.operatorNamespace,
      secretName: webhook.secretName,
      webhookConfigurationName: webhook.configurationName,
      names: { dnsNames: webhook.dnsNames, ipAddresses: webhook.ipAddresses },
      renewBeforeMs: webhook.renewBeforeMs,
      mode: webhook.certificateMode,
      scheduler,
      onCertificate: (bundle) => {
        pending = { cert: bundle.cert, key: bundle.key };
        webhookServer?.setCertificate(pending);
      },
      onRotated: (reason) => {
        metrics.certificateRotated();
        logger.info({ reason, secret: webhook.secretName }, 'webhook certificate generated');
      },
      onError: (error) =>
        logger.error({ err: errorText(error) }, 'webhook certificate check failed'),
    });
    await certificates.start();
    if (pending === undefined) throw new Error('no webhook certificate');
    webhookServer = new WebhookServer({
      host: webhook.bind.host,
      port: webhook.bind.port,
      path: webhook.path,
      tls: pending,
      settings: options.sidecar,
      onReview: (answer) => {
        metrics.admission(answer.outcome);
        if (answer.outcome === 'refused' || answer.outcome === 'invalid')
          logger.info({ outcome: answer.outcome, reason: answer.message }, 'admission refused');
      },
    });
    webhookPort = await webhookServer.listen();
    logger.info(
      {
        port: webhookPort,
        host: webhook.bind.host,
        path: webhook.path,
        certificates: webhook.certificateMode,
      },
      'webhook serving',
    );
  }

  const health = new HealthServer({
    host: options.health.host,
    port: options.health.port,
    registry: metrics.registry,
    readiness: () => {
      const synced = operator.informersSynced();
      const role =
        elector === undefined
          ? 'leader'
          : elector.leaderState === 'leader'
            ? 'leader'
            : elector.leaderState === 'candidate'
              ? 'standby'
              : 'stopped';
      const ready = synced && role !== 'stopped' && (role !== 'leader' || operator.workersStarted);
      return { ready, details: { informersSynced: synced, role, holder: elector?.holder } };
    },
  });
  const healthPort = await health.listen();
  logger.info({ port: healthPort, host: options.health.host }, 'health and metrics serving');

  // Looked up before any worker writes, so that first writes already carry the owner.
  const informersReady = Promise.all([owner.start(), operator.startInformers()]).then(() =>
    logger.info('informers synced'),
  );
  informersReady.catch((error: unknown) => {
    logger.error({ err: errorText(error) }, 'informers failed');
    finish(EXIT.failed);
  });

  let stopping: Promise<void> | undefined;
  const shutDown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down');
      certificates?.stop();
      owner.stop();
      const drained = operator.shutDown();
      const grace = new Promise<'timeout'>((resolve) =>
        scheduler.schedule(options.shutdownGraceMs, () => resolve('timeout')),
      );
      if ((await Promise.race([drained.then(() => 'drained' as const), grace])) === 'timeout')
        logger.warn({ graceMs: options.shutdownGraceMs }, 'queues did not drain in time');
      // Release only after the last write: the next leader must not overlap with us.
      await elector?.release();
      await Promise.all([webhookServer?.close(), health.close()]);
      logger.info('stopped');
      finish(EXIT.ok);
    })();
    return stopping;
  };

  if (options.leaderElection.enabled) {
    const lease = options.leaderElection;
    elector = new LeaderElector({
      identity: options.identity,
      lock: new KubeLeaseLock(kubeConfig, options.operatorNamespace, lease.leaseName),
      timings: lease.timings,
      scheduler,
      onStartedLeading: () => {
        logger.info({ lease: lease.leaseName }, 'became leader');
        informersReady
          .then(() => {
            if (stopping === undefined) operator.startWorkers();
          })
          .catch(() => undefined);
      },
      onStoppedLeading: () => {
        // A former leader must not keep writing: stop at once, exit non-zero, get restarted.
        logger.error({ lease: lease.leaseName }, 'lost the leader lease; exiting');
        owner.stop();
        void operator.shutDown().finally(() => {
          void Promise.all([webhookServer?.close(), health.close()]).finally(() =>
            finish(EXIT.lostLease),
          );
        });
      },
      onNewLeader: (holder) =>
        logger.info({ holder: holder === '' ? null : holder }, 'lease holder'),
      onError: (error) => logger.warn({ err: errorText(error) }, 'leader election attempt failed'),
    });
    elector.start();
  } else {
    void informersReady.then(() => operator.startWorkers()).catch(() => undefined);
  }

  return {
    ports: { health: healthPort, ...(webhookPort === undefined ? {} : { webhook: webhookPort }) },
    done,
    shutDown,
  };
}

/** Where `runCli` writes and which signals it listens to (tests pass their own). */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  onSignal: (signal: 'SIGTERM' | 'SIGINT', handler: () => void) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  onSignal: (signal, handler) => process.on(signal, handler),
};

/** The command: parse, start, run until a signal or a lost lease; returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let options: OperatorRuntimeOptions;
  let kubeConfig: KubeConfig;
  try {
    const parsed = parseOptions(argv, io.env, `${hostname()}-${process.pid}`, (path) =>
      readFileSync(path, 'utf8'),
    );
    if (parsed.kind === 'help') {
      io.stdout(`${USAGE}\n`);
      return EXIT.ok;
    }
    options = parsed.options;
    kubeConfig = loadKubeConfig(options.kubeconfig, io.env);
  } catch (error) {
    if (error instanceof OptionsError) {
      io.stderr(`palisade-operator: ${error.message}\n`);
      return EXIT.usage;
    }
    io.stderr(`palisade-operator: cannot load the kubeconfig: ${errorText(error)}\n`);
    return EXIT.usage;
  }
  const logger = pino({
    level: options.logLevel,
    base: { name: 'palisade-operator', identity: options.identity },
  });
  let running: RunningOperator;
  try {
    running = await startOperator(options, { kubeConfig, logger });
  } catch (error) {
    logger.fatal({ err: errorText(error) }, 'start-up failed');
    return EXIT.failed;
  }
  let signals = 0;
  const onSignal = (signal: string) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without draining');
      process.exit(EXIT.failed);
    }
    void running.shutDown(signal);
  };
  io.onSignal('SIGTERM', () => onSignal('SIGTERM'));
  io.onSignal('SIGINT', () => onSignal('SIGINT'));
  return running.done;
}

/** An error as log text: message and code only (never request bodies or credentials). */
function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === 'string' || typeof code === 'number' ? `${code}: ` : ''}${error.message}`;
  }
  return String(error);
}
