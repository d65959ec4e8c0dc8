import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '@palisade/crds';
import type { EventRecorder, OperatorEvent } from '../reconcilers/condition-events.js';
import { kubeRequest } from './kube-request.js';

/** Name in `reportingController` of every event. */
export const REPORTING_CONTROLLER = 'palisade.dev/operator';
/** Events waiting to be written beyond this are dropped (and reported): never block reconciles. */
const MAX_PENDING = 100;

/**
 * Writes events.k8s.io/v1 Events, fire-and-forget: a reconcile never waits for (or fails
 * because of) an event. Errors and drops go to `onError`.
 */
export class KubeEventRecorder implements EventRecorder {
  private pending = 0;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly reportingInstance: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  record(event: OperatorEvent): void {
    if (this.pending >= MAX_PENDING) {
      this.onError(new Error(`event dropped (${MAX_PENDING} pending): ${event.reason}`));
      return;
    }
    this.pending++;
    const { regarding } = event;
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: {
        name: `${regarding.name}.${randomBytes(8).toString('hex')}`,
        namespace: regarding.namespace,
      },
      eventTime: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.reportingInstance.slice(0, 128),
      action: event.action,
      reason: event.reason,
      note: event.note,
      type: event.type,
      regarding: {
        apiVersion: API_VERSION,
        kind: regarding.kind,
        namespace: regarding.namespace,
        name: regarding.name,
        ...(regarding.uid === undefined ? {} : { uid: regarding.uid }),
      },
    };
    kubeRequest(this.kubeConfig, {
      method: 'POST',
      path: `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(regarding.namespace)}/events`,
      body,
    })
      .catch((error: unknown) => this.onError(error))
      .finally(() => this.pending--);
  }
}
