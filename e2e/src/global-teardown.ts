// Jest global teardown of the e2e project: stops the local control plane when the global setup
// started it (PALISADE_E2E_STARTED_CLUSTER=1; a cluster that was already up is left running),
// unless PALISADE_E2E_KEEP_CLUSTER=1. Imports only Node built-ins (see global-setup.ts).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The part of Jest's project config the teardown reads. */
interface ProjectConfigLike {
  readonly rootDir: string;
}

/** Jest global teardown: see the file comment. */
export default function globalTeardown(_globalConfig: unknown, project: ProjectConfigLike): void {
  if (process.env['PALISADE_E2E_STARTED_CLUSTER'] !== '1') return;
  if (process.env['PALISADE_E2E_KEEP_CLUSTER'] === '1') {
    console.log('e2e: leaving the local control plane running (stop it: make cluster-down)');
    return;
  }
  const down = spawnSync('bash', [join(project.rootDir, 'e2e', 'cluster', 'down.sh')], {
    stdio: 'inherit',
  });
  if (down.status !== 0) {
    throw new Error(
      `e2e: e2e/cluster/down.sh failed (exit ${String(down.status)}); check: pgrep -a 'etcd|kube-'`,
    );
  }
}
