import type { Cancel, Scheduler } from '../core/clock.js';

/** An ownerReference as the operator writes it on the objects it creates at run time. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  /** Always false: the operator holds no `update` on the owner's finalizers (decision 0018). */
  blockOwnerDeletion?: boolean;
  controller?: boolean;
}

/** The kind whose one object (the chart's injection webhook) owns what the operator creates. */
export const INSTALLATION_OWNER_KIND = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'MutatingWebhookConfiguration',
} as const;

/** The metadata of an object the operator writes at run time (labelled, installation-owned). */
export interface OwnedObjectMetadata {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

/** The ownerReference to the installation's MutatingWebhookConfiguration `name` with `uid`. */
export function installationOwnerReference(name: string, uid: string): OwnerReference {
  return { ...INSTALLATION_OWNER_KIND, name, uid, blockOwnerDeletion: false };
}

/**
 * Whether an object's ownerReferences are the desired ones (same owners by identity; absent
 * equals empty). `blockOwnerDeletion` and `controller` are not compared: the API server may
 * spell a default out.
 */
export function sameOwners(
  existing: readonly OwnerReference[] | undefined,
  desired: readonly OwnerReference[],
): boolean {
  const have = existing ?? [];
  return (
    have.length === desired.length &&
    desired.every((d) =>
      have.some(
        (e) =>
          e.uid === d.uid &&
          e.name === d.name &&
          e.kind === d.kind &&
          e.apiVersion === d.apiVersion,
      ),
    )
  );
}

/**
 * Whether an object belongs to another installation of Palisade in the same cluster: it is owned
 * by a webhook configuration none of `owners` names. Such objects are left alone, so that two
 * installations never undo each other's writes in a loop (the first to provision a namespace
 * keeps it). Without owners of its own, an operator counts every owned object as another's.
 */
export function ownedByAnotherInstallation(
  existing: readonly OwnerReference[] | undefined,
  owners: readonly OwnerReference[],
): boolean {
  const installations = (existing ?? []).filter(
    (r) =>
      r.kind === INSTALLATION_OWNER_KIND.kind &&
      r.apiVersion === INSTALLATION_OWNER_KIND.apiVersion,
  );
  return (
    installations.length > 0 && !installations.some((r) => owners.some((o) => o.name === r.name))
  );
}

/**
 * The owner to write next, from the current one and a lookup of the webhook configuration
 * (`undefined`: it does not exist). A new UID replaces the old one. A configuration that
 * disappeared keeps the last UID: it disappears when `helm uninstall` runs, and an operator still
 * running then must not rewrite its objects without owner (they would survive the uninstall);
 * objects naming a deleted owner are what the garbage collector removes.
 */
export function nextOwner(
  current: OwnerReference | undefined,
  name: string,
  foundUid: string | undefined,
): OwnerReference | undefined {
  if (foundUid === undefined || foundUid === current?.uid) return current;
  return installationOwnerReference(name, foundUid);
}

/** Options of an `InstallationOwner`. */
export interface InstallationOwnerOptions {
  /** The chart's MutatingWebhookConfiguration; undefined (no webhook): objects get no owner. */
  name: string | undefined;
  /** UID of the MutatingWebhookConfiguration `name`, undefined when it does not exist. */
  lookup: (name: string) => Promise<string | undefined>;
  scheduler: Scheduler;
  /** How often the owner is looked up again (default 60 s). */
  refreshMs?: number;
  /** How soon a failed lookup is retried (default 2 s): until then objects get the old owner. */
  retryMs?: number;
  /** The owner changed: every object must be rewritten with it. */
  onChange?: (owner: OwnerReference) => void;
  /** A lookup failed (the previous owner stays in use; retried at the next refresh). */
  onError?: (error: unknown) => void;
}

/**
 * Which object owns the namespaced objects the operator creates at run time (config ConfigMaps,
 * sidecar RoleBindings, Raft Secrets): the chart's MutatingWebhookConfiguration, so that
 * `helm uninstall`, which deletes it, lets the garbage collector delete them (decision 0018).
 * Looked up at start and every `refreshMs`, since the object may be created after the
 * operator or re-created with a new UID.
 */
export class InstallationOwner {
  private owner: OwnerReference | undefined;
  private cancel: Cancel | undefined;
  private stopped = false;

  constructor(private readonly options: InstallationOwnerOptions) {}

  /** The ownerReferences to write: none, or the webhook configuration. */
  references(): OwnerReference[] {
    return this.owner === undefined ? [] : [this.owner];
  }

  /**
   * One lookup; reports a change through `onChange`. Never throws (errors go to `onError`).
   * Resolves whether the lookup answered (found or absent) rather than failed.
   */
  async refresh(): Promise<boolean> {
    const { name } = this.options;
    if (name === undefined) return true;
    let uid: string | undefined;
    try {
      uid = await this.options.lookup(name);
    } catch (error) {
      this.options.onError?.(error);
      return false;
    }
    const next = nextOwner(this.owner, name, uid);
    if (next !== this.owner && next !== undefined) {
      this.owner = next;
      this.options.onChange?.(next);
    }
    return true;
  }

  /** Looks the owner up now, then every `refreshMs` (after a failure: `retryMs`) until `stop`. */
  async start(): Promise<void> {
    if (this.options.name === undefined) return;
    this.scheduleNext(await this.refresh());
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private scheduleNext(answered: boolean): void {
    if (this.stopped) return;
    const delay = answered ? (this.options.refreshMs ?? 60_000) : (this.options.retryMs ?? 2000);
    this.cancel = this.options.scheduler.schedule(delay, () => {
      void this.refresh().then((ok) => this.scheduleNext(ok));
    });
  }
}
