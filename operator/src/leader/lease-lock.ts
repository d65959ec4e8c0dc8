import type { KubeConfig } from '@kubernetes/client-node';
import type { LeaseRecord } from './lease-decision.js';
import type { LeaseLock, VersionedLease } from './leader-elector.js';
import { KubeRequestError, kubeRequest } from '../adapters/kube-request.js';

/** Wire shape of a coordination.k8s.io/v1 Lease (the fields we use). */
interface LeaseObject {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/**
 * `LeaseLock` on a real Lease: plain JSON over the API (MicroTime written as RFC 3339 with
 * microseconds, which the generated client does not do reliably), create → 409 and
 * update → 409 are conflicts.
 */
export class KubeLeaseLock implements LeaseLock {
  readonly description: string;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.description = `${namespace}/${name}`;
  }

  private get collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  async get(): Promise<VersionedLease | undefined> {
    try {
      const lease = await kubeRequest<LeaseObject>(this.kubeConfig, {
        method: 'GET',
        path: `${this.collection}/${encodeURIComponent(this.name)}`,
      });
      return fromObject(lease);
    } catch (error) {
      if (error instanceof KubeRequestError && error.status === 404) return undefined;
      throw error;
    }
  }

  async create(record: LeaseRecord): Promise<VersionedLease | 'conflict'> {
    return this.write('POST', this.collection, this.toObject(record));
  }

  async update(record: LeaseRecord, resourceVersion: string): Promise<VersionedLease | 'conflict'> {
    return this.write(
      'PUT',
      `${this.collection}/${encodeURIComponent(this.name)}`,
      this.toObject(record, resourceVersion),
    );
  }

  private async write(
    method: 'POST' | 'PUT',
    path: string,
    body: LeaseObject,
  ): Promise<VersionedLease | 'conflict'> {
    try {
      return fromObject(await kubeRequest<LeaseObject>(this.kubeConfig, { method, path, body }));
    } catch (error) {
      if (error instanceof KubeRequestError && error.status === 409) return 'conflict';
      throw error;
    }
  }

  private toObject(record: LeaseRecord, resourceVersion?: string): LeaseObject {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      spec: {
        holderIdentity: record.holderIdentity,
        leaseDurationSeconds: record.leaseDurationSeconds,
        acquireTime: microTime(record.acquireTimeMs),
        renewTime: microTime(record.renewTimeMs),
        leaseTransitions: record.leaseTransitions,
      },
    };
  }
}

function fromObject(lease: LeaseObject): VersionedLease {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 15,
      acquireTimeMs: spec.acquireTime === undefined ? 0 : Date.parse(spec.acquireTime),
      renewTimeMs: spec.renewTime === undefined ? 0 : Date.parse(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}

/** RFC 3339 with six fractional digits, as metav1.MicroTime serialises. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
