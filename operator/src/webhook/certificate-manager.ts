import type { KubeConfig } from '@kubernetes/client-node';
import { KubeRequestError, kubeRequest } from '../adapters/kube-request.js';
import type { Cancel, Scheduler } from '../core/clock.js';
import {
  generateCertificates,
  renewalDueMs,
  renewalReason,
  type CertificateBundle,
  type ServingNames,
} from './certificates.js';

interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  type?: string;
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  data?: Record<string, string>;
}

interface WebhookConfigurationObject {
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

/** The Secret has no usable certificate and this replica may not make one. */
export class CertificateMissingError extends Error {
  readonly code = 'WEBHOOK_CERT_MISSING';
  constructor(message: string) {
    super(message);
    this.name = 'CertificateMissingError';
  }
}

/** Options of a `CertificateManager`. */
export interface CertificateManagerOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  secretName: string;
  webhookConfigurationName: string;
  names: ServingNames;
  renewBeforeMs: number;
  /**
   * `operator`: generate, rotate and patch the caBundle. `cert-manager`: only read the Secret
   * (cert-manager writes it and injects the caBundle), re-read every minute for renewals.
   */
  mode?: 'operator' | 'cert-manager';
  scheduler: Scheduler;
  /** New serving certificate to use (first load and every rotation). */
  onCertificate: (bundle: CertificateBundle) => void;
  onError?: (error: unknown) => void;
  onRotated?: (reason: string) => void;
}

/**
 * Keeps the webhook's CA and serving certificate in a Secret (`tls.crt`, `tls.key`, `ca.crt`,
 * `ca.key`, `ca-bundle.crt`), regenerates them when missing, wrong or within `renewBeforeMs`
 * of expiry, and keeps the MutatingWebhookConfiguration's `caBundle` equal to the bundle.
 * Every replica runs it (each serves the webhook): writes are optimistic (create → 409,
 * update by resourceVersion → 409), so when two replicas race one wins and the other re-reads.
 */
export class CertificateManager {
  private readonly options: CertificateManagerOptions;
  private current: CertificateBundle | undefined;
  private cancelTimer: Cancel | undefined;
  private stopped = false;

  constructor(options: CertificateManagerOptions) {
    this.options = options;
  }

  /** Loads or creates the bundle, patches the caBundle, schedules the next check. */
  async start(): Promise<CertificateBundle> {
    const bundle = await this.ensure();
    this.scheduleNext(bundle);
    return bundle;
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
  }

  /** One pass: read, (re)generate if needed, store, patch caBundle. */
  async ensure(): Promise<CertificateBundle> {
    const { names, renewBeforeMs, scheduler } = this.options;
    if (this.options.mode === 'cert-manager') {
      const secret = await this.readSecret();
      const d = secret?.data ?? {};
      const text = (k: string) =>
        d[k] === undefined ? undefined : Buffer.from(d[k], 'base64').toString('utf8');
      const cert = text('tls.crt');
      const key = text('tls.key');
      if (cert === undefined || key === undefined)
        throw new CertificateMissingError(
          `Secret ${this.options.namespace}/${this.options.secretName} has no tls.crt/tls.key yet (cert-manager mode)`,
        );
      const caCert = text('ca.crt') ?? '';
      const bundle = { cert, key, caCert, caKey: '', caBundle: caCert };
      if (this.current?.cert !== cert) {
        this.current = bundle;
        this.options.onCertificate(bundle);
      }
      return bundle;
    }
    for (let attempt = 0; ; attempt++) {
      const secret = await this.readSecret();
      const stored = secret === undefined ? undefined : fromSecret(secret);
      const reason =
        stored === undefined
          ? 'no certificate yet'
          : renewalReason(stored, names, scheduler.now(), renewBeforeMs);
      let bundle = stored;
      if (reason !== undefined) {
        const fresh = generateCertificates({
          names,
          nowMs: scheduler.now(),
          ...(stored === undefined ? {} : { previousCa: stored.caCert }),
        });
        const written = await this.writeSecret(fresh, secret?.metadata.resourceVersion);
        if (!written) {
          if (attempt >= 3) throw new Error('certificate Secret keeps changing under us');
          continue;
        }
        this.options.onRotated?.(reason);
        bundle = fresh;
      }
      if (bundle === undefined) continue;
      await this.patchCaBundle(bundle.caBundle);
      if (this.current?.cert !== bundle.cert) {
        this.current = bundle;
        this.options.onCertificate(bundle);
      }
      return bundle;
    }
  }

  private scheduleNext(bundle: CertificateBundle): void {
    if (this.stopped) return;
    const { scheduler, renewBeforeMs } = this.options;
    // Check hourly anyway: another replica may have rotated, or someone edited the webhook.
    const delay = Math.max(
      1_000,
      Math.min(3_600_000, renewalDueMs(bundle, renewBeforeMs) - scheduler.now()),
    );
    this.cancelTimer = scheduler.schedule(delay, () => {
      this.ensure()
        .then((next) => this.scheduleNext(next))
        .catch((error: unknown) => {
          this.options.onError?.(error);
          if (!this.stopped)
            this.cancelTimer = scheduler.schedule(30_000, () => this.scheduleNext(bundle));
        });
    });
  }

  private secretPath(name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/secrets`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  private async readSecret(): Promise<SecretObject | undefined> {
    try {
      return await kubeRequest<SecretObject>(this.options.kubeConfig, {
        method: 'GET',
        path: this.secretPath(this.options.secretName),
      });
    } catch (error) {
      if (error instanceof KubeRequestError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** False on a write conflict (someone else wrote first). */
  private async writeSecret(
    bundle: CertificateBundle,
    resourceVersion: string | undefined,
  ): Promise<boolean> {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const body: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: this.options.secretName,
        namespace: this.options.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'palisade-operator' },
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      data: {
        'tls.crt': b64(bundle.cert),
        'tls.key': b64(bundle.key),
        'ca.crt': b64(bundle.caCert),
        'ca.key': b64(bundle.caKey),
        'ca-bundle.crt': b64(bundle.caBundle),
      },
    };
    try {
      await kubeRequest(this.options.kubeConfig, {
        method: resourceVersion === undefined ? 'POST' : 'PUT',
        path:
          resourceVersion === undefined
            ? this.secretPath()
            : this.secretPath(this.options.secretName),
        body,
      });
      return true;
    } catch (error) {
      if (error instanceof KubeRequestError && error.status === 409) return false;
      throw error;
    }
  }

  /** JSON-patches the caBundle of every webhook of the configuration whose bundle differs. */
  private async patchCaBundle(caBundle: string): Promise<void> {
    const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(
      this.options.webhookConfigurationName,
    )}`;
    let config: WebhookConfigurationObject;
    try {
      config = await kubeRequest<WebhookConfigurationObject>(this.options.kubeConfig, {
        method: 'GET',
        path,
      });
    } catch (error) {
      // Not installed (yet): nothing to patch; the next check tries again.
      if (error instanceof KubeRequestError && error.status === 404) return;
      throw error;
    }
    const wanted = Buffer.from(caBundle).toString('base64');
    const patch = (config.webhooks ?? []).flatMap((webhook, index) =>
      webhook.clientConfig?.caBundle === wanted
        ? []
        : [
            { op: 'test', path: `/webhooks/${index}/name`, value: webhook.name },
            { op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: wanted },
          ],
    );
    if (patch.length === 0) return;
    await kubeRequest(this.options.kubeConfig, {
      method: 'PATCH',
      path,
      body: patch,
      contentType: 'application/json-patch+json',
    });
  }
}

function fromSecret(secret: SecretObject): CertificateBundle | undefined {
  const d = secret.data ?? {};
  const get = (k: string) =>
    d[k] === undefined ? undefined : Buffer.from(d[k], 'base64').toString('utf8');
  const cert = get('tls.crt');
  const key = get('tls.key');
  const caCert = get('ca.crt');
  const caKey = get('ca.key');
  if (cert === undefined || key === undefined || caCert === undefined || caKey === undefined)
    return undefined;
  return { cert, key, caCert, caKey, caBundle: get('ca-bundle.crt') ?? caCert };
}
