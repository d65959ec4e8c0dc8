/**
 * The baseline of the failover benchmark: a Kubernetes Lease election as client-go's
 * `leaderelection` package runs it with its default timings (LeaseDuration 15 s, RenewDeadline
 * 10 s, RetryPeriod 2 s, JitterFactor 1.2), on a real API server.
 *
 * Reproduced rules of `tryAcquireOrRenew`: a candidate reads the Lease; it may take it when it is
 * absent, or when the record it last observed has not changed for LeaseDuration by the
 * candidate's own clock (`observedTime + leaseDuration < now`); it writes with optimistic
 * concurrency (resourceVersion). The leader renews every RetryPeriod; candidates retry every
 * RetryPeriod·[1, 1 + JitterFactor) (`wait.JitterUntil`). A crash is the leader's loop stopping
 * without releasing.
 */
import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';

/** client-go's defaults (k8s.io/client-go/tools/leaderelection). */
export const CLIENT_GO_DEFAULTS = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  jitterFactor: 1.2,
});

/**
 * Lease times are `MicroTime` (six fractional digits); the client serializes a `Date` with
 * milliseconds, which the API server refuses. This Date prints microseconds.
 */
class MicroDate extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/Z$/, '000Z');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class Elector {
  private observedRecord = '';
  private observedAt = 0;
  stopped = false;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly namespace: string,
    private readonly name: string,
    readonly identity: string,
  ) {}

  /** One `tryAcquireOrRenew`; true when this elector holds the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = new MicroDate();
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
    } catch (error) {
      if ((error as { code?: number }).code !== 404) return false;
    }
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: CLIENT_GO_DEFAULTS.leaseDurationMs / 1000,
      acquireTime: now,
      renewTime: now,
    };
    if (lease === undefined) {
      try {
        await this.api.createNamespacedLease({
          namespace: this.namespace,
          body: { metadata: { name: this.name }, spec },
        });
        return true;
      } catch {
        return false;
      }
    }
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (
      holder !== '' &&
      holder !== this.identity &&
      this.observedAt + CLIENT_GO_DEFAULTS.leaseDurationMs > Date.now()
    ) {
      return false;
    }
    try {
      await this.api.replaceNamespacedLease({
        name: this.name,
        namespace: this.namespace,
        body: {
          metadata: { name: this.name, resourceVersion: lease.metadata?.resourceVersion },
          spec:
            holder === this.identity && lease.spec?.acquireTime
              ? { ...spec, acquireTime: new MicroDate(lease.spec.acquireTime.getTime()) }
              : spec,
        },
      });
      return true;
    } catch {
      return false;
    }
  }

  /** The leader's loop: renew every RetryPeriod until stopped (a crash: no release). */
  async lead(): Promise<void> {
    while (!this.stopped) {
      await this.tryAcquireOrRenew();
      await sleep(CLIENT_GO_DEFAULTS.retryPeriodMs);
    }
  }

  /** A candidate's loop: resolves with the time it acquired. */
  async campaign(deadlineMs: number): Promise<number | undefined> {
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
      if (await this.tryAcquireOrRenew()) return performance.now();
      const period =
        CLIENT_GO_DEFAULTS.retryPeriodMs * (1 + Math.random() * CLIENT_GO_DEFAULTS.jitterFactor);
      await sleep(period);
    }
    return undefined;
  }
}

/**
 * Runs `trials` crash-and-take-over elections, `parallel` at a time on separate Lease objects in
 * `namespace`; returns each failover (crash → the candidate holds the lease) in ms.
 */
export async function measureLeaseFailover(options: {
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly trials: number;
  readonly parallel: number;
}): Promise<number[]> {
  const config = new KubeConfig();
  config.loadFromFile(options.kubeconfig);
  const api = config.makeApiClient(CoordinationV1Api);
  const run = async (trial: number): Promise<number | undefined> => {
    const name = `palisade-bench-raft-${process.pid}-${trial}`;
    const leader = new Elector(api, options.namespace, name, 'leader');
    const candidate = new Elector(api, options.namespace, name, 'candidate');
    try {
      if (!(await leader.tryAcquireOrRenew())) return undefined;
      const leading = leader.lead();
      // The candidate starts watching; the leader crashes at a random point of its renew cycle.
      const campaign = candidate.campaign(60_000);
      await sleep(3_000 + Math.random() * CLIENT_GO_DEFAULTS.retryPeriodMs);
      leader.stopped = true;
      const crashedAt = performance.now();
      const acquiredAt = await campaign;
      await leading;
      return acquiredAt === undefined ? undefined : acquiredAt - crashedAt;
    } finally {
      await api
        .deleteNamespacedLease({ name, namespace: options.namespace })
        .catch(() => undefined);
    }
  };
  const results: number[] = [];
  for (let first = 0; first < options.trials; first += options.parallel) {
    const batch = Array.from(
      { length: Math.min(options.parallel, options.trials - first) },
      (_, i) => run(first + i),
    );
    for (const value of await Promise.all(batch)) if (value !== undefined) results.push(value);
  }
  return results;
}

/**
 * The analytical window of client-go's failover after a crash: the last renew happened
 * [0, RetryPeriod) before the crash; the candidate observed it up to one jittered retry period
 * later and waits LeaseDuration from its observation; it then notices at its next retry.
 */
export function leaseFailoverBoundsMs(): { min: number; max: number } {
  const d = CLIENT_GO_DEFAULTS;
  const maxRetry = d.retryPeriodMs * (1 + d.jitterFactor);
  return { min: d.leaseDurationMs - d.retryPeriodMs, max: d.leaseDurationMs + 2 * maxRetry - 0 };
}
