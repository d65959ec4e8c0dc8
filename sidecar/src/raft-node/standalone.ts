/**
 * Test-only entry: runs the admin API and a Raft node (nothing else of the sidecar) from a
 * SidecarConfig file (watched: a new peer list reaches `updatePeers`), so the multi-process tests and the benchmark do not depend on the full
 * sidecar. `node sidecar/dist/raft-node/standalone.js --config sidecar.yaml`. Logs go to stderr;
 * test knobs from the environment: PALISADE_RAFT_TICK_MS,
 * PALISADE_RAFT_SNAPSHOT_EVERY, PALISADE_RAFT_SNAPSHOT_KEEP. stdout gets one JSON line `{"event":"ready","admin":<port>,"raft":<port>}` once listening.
 */
import { HealthChecks, createAdminServer } from '../admin/index.js';
import { ConfigStore, loadConfigFile, watchConfigFile } from '../config/index.js';
import { createLogging } from '../logging/index.js';
import { Metrics } from '../metrics/index.js';
import { raftPeersApplier, startRaftNode } from './start.js';

async function main(argv: readonly string[]): Promise<void> {
  const index = argv.indexOf('--config');
  const path = index >= 0 ? argv[index + 1] : undefined;
  if (path === undefined) {
    process.stderr.write('usage: standalone --config <SidecarConfig file>\n');
    process.exit(2);
  }
  const { config, contentHash } = await loadConfigFile(path);
  if (config.raft === undefined) throw new Error('the config has no raft section');
  const logging = createLogging({ level: config.logLevel, destination: process.stderr });
  const metrics = new Metrics({ processMetrics: false });
  const store = new ConfigStore({ initial: config });
  const checks = new HealthChecks();
  const numberFromEnv = (name: string): number | undefined =>
    Number(process.env[name] ?? '') || undefined;
  const tickMs = numberFromEnv('PALISADE_RAFT_TICK_MS');
  const raft = await startRaftNode({
    config: config.raft,
    listenPort: config.listeners.raft,
    metrics,
    logger: logging.child('raft'),
    timing: { tickMs },
    snapshots: {
      every: numberFromEnv('PALISADE_RAFT_SNAPSHOT_EVERY'),
      keep: numberFromEnv('PALISADE_RAFT_SNAPSHOT_KEEP'),
    },
    onFatal: () => process.exit(1),
  });
  checks.register(raft.readinessCheck);
  store.register(raftPeersApplier(raft));
  const watcher = watchConfigFile({ path, store, initialHash: contentHash, pollIntervalMs: 500 });
  const admin = createAdminServer({ store, metrics, checks, logger: logging.child('admin') });
  admin.mount('/v1', raft.router);
  admin.intercept(raft.httpHandler);
  const address = await admin.listen();
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', admin: address.port, raft: config.listeners.raft })}\n`,
  );
  const stop = (): void => {
    void (async () => {
      watcher.close();
      await admin.close(500);
      await raft.stop();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `raft-node standalone: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
