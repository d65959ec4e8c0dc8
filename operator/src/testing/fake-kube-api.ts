import type { PolicyKind } from '../compiler/types.js';
import { ObjectStore } from '../informer/object-store.js';
import type { PodLike } from '../informer/pod-info.js';
import type { ConfigMapObject } from '../reconcilers/config-map.js';
import { isManagedConfigMap } from '../reconcilers/config-map.js';
import type { OwnerReference } from '../reconcilers/installation-owner.js';
import type { KubeApi, PalisadeResource, ResourceOf } from '../reconcilers/kube-api.js';
import type {
  RoleBindingObject,
  SecretMetadata,
  SecretObject,
} from '../reconcilers/namespace-provisioning.js';

/** One write the fake received, in order. */
export type FakeWrite =
  | { op: 'applyConfigMap'; namespace: string; name: string }
  | { op: 'deleteConfigMap'; namespace: string; name: string }
  | { op: 'applyStatus'; kind: PolicyKind; namespace: string; name: string; status: object }
  | { op: 'deletePod'; namespace: string; name: string; gracePeriodSeconds?: number }
  | { op: 'applyRoleBinding'; namespace: string; name: string }
  | { op: 'deleteRoleBinding'; namespace: string; name: string }
  | { op: 'createSecret'; namespace: string; name: string }
  | { op: 'setSecretOwners'; namespace: string; name: string; owners: OwnerReference[] }
  | { op: 'deleteSecret'; namespace: string; name: string };

/**
 * In-memory fake of the `KubeApi` port (and only of it): state in `ObjectStore`s, every write
 * recorded, status apply replacing the applied top-level fields and removing those the last
 * apply had and this one leaves out, as server-side apply does for fields one manager owns.
 * `failNext` makes the next write fail, to test retries.
 */
export class FakeKubeApi implements KubeApi {
  readonly pods = new ObjectStore<PodLike>();
  readonly resources = new Map<PolicyKind, ObjectStore<PalisadeResource>>();
  readonly configMaps = new ObjectStore<ConfigMapObject>();
  readonly roleBindings = new ObjectStore<RoleBindingObject>();
  readonly secrets = new ObjectStore<SecretObject | SecretMetadata>();
  /** UIDs of MutatingWebhookConfigurations by name. */
  readonly webhookConfigurations = new Map<string, string>();
  readonly writes: FakeWrite[] = [];
  private failures: Error[] = [];
  /** Top-level status fields of the last status apply, by `Kind/namespace/name`. */
  private readonly appliedStatusFields = new Map<string, Set<string>>();

  /** Adds or replaces a pod. */
  putPod(pod: PodLike): void {
    this.pods.upsert(pod);
  }

  /** Adds or replaces a resource. */
  putResource(resource: PalisadeResource): void {
    this.store(resource.kind).upsert(resource);
  }

  /** Makes the next write throw `error`. */
  failNext(error: Error): void {
    this.failures.push(error);
  }

  /** Writes since the last call (and forgets them). */
  takeWrites(): FakeWrite[] {
    return this.writes.splice(0);
  }

  async listPods(namespace: string): Promise<PodLike[]> {
    return this.pods.list(namespace);
  }

  async listResources<K extends PolicyKind>(kind: K, namespace: string): Promise<ResourceOf<K>[]> {
    return this.store(kind).list(namespace) as ResourceOf<K>[];
  }

  async getResource<K extends PolicyKind>(
    kind: K,
    namespace: string,
    name: string,
  ): Promise<ResourceOf<K> | undefined> {
    return this.store(kind).get(name, namespace) as ResourceOf<K> | undefined;
  }

  async listConfigMaps(namespace: string): Promise<ConfigMapObject[]> {
    return this.configMaps.list(namespace).filter(isManagedConfigMap);
  }

  async applyConfigMap(configMap: ConfigMapObject): Promise<void> {
    this.maybeFail();
    this.configMaps.upsert(structuredClone(configMap));
    this.writes.push({
      op: 'applyConfigMap',
      namespace: configMap.metadata.namespace,
      name: configMap.metadata.name,
    });
  }

  async deleteConfigMap(namespace: string, name: string): Promise<void> {
    this.maybeFail();
    this.configMaps.remove({ metadata: { namespace, name } });
    this.writes.push({ op: 'deleteConfigMap', namespace, name });
  }

  async applyStatus(
    kind: PolicyKind,
    namespace: string,
    name: string,
    status: object,
  ): Promise<void> {
    this.maybeFail();
    const store = this.store(kind);
    const current = store.get(name, namespace);
    if (current === undefined)
      throw Object.assign(new Error(`${kind} ${namespace}/${name} not found`), { statusCode: 404 });
    const copy = structuredClone(status);
    // Server-side apply: a field this manager applied before and leaves out now is removed.
    const key = `${kind}/${namespace}/${name}`;
    const next: Record<string, unknown> = { ...(current.status ?? {}) };
    for (const field of this.appliedStatusFields.get(key) ?? []) delete next[field];
    this.appliedStatusFields.set(key, new Set(Object.keys(copy)));
    store.upsert({ ...current, status: { ...next, ...copy } } as PalisadeResource);
    this.writes.push({ op: 'applyStatus', kind, namespace, name, status: copy });
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void> {
    this.maybeFail();
    this.pods.remove({ metadata: { namespace, name } });
    this.writes.push({
      op: 'deletePod',
      namespace,
      name,
      ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
    });
  }

  async getRoleBinding(namespace: string, name: string): Promise<RoleBindingObject | undefined> {
    const found = this.roleBindings.get(name, namespace);
    return found === undefined ? undefined : structuredClone(found);
  }

  async applyRoleBinding(roleBinding: RoleBindingObject): Promise<void> {
    this.maybeFail();
    const { namespace, name } = roleBinding.metadata;
    const current = this.roleBindings.get(name, namespace);
    // The API server refuses to change roleRef, as the real one does.
    if (current !== undefined && current.roleRef.name !== roleBinding.roleRef.name)
      throw Object.assign(new Error(`RoleBinding ${namespace}/${name}: cannot change roleRef`), {
        statusCode: 422,
      });
    this.roleBindings.upsert(structuredClone(roleBinding));
    this.writes.push({ op: 'applyRoleBinding', namespace, name });
  }

  async deleteRoleBinding(namespace: string, name: string): Promise<void> {
    this.maybeFail();
    this.roleBindings.remove({ metadata: { namespace, name } });
    this.writes.push({ op: 'deleteRoleBinding', namespace, name });
  }

  async getSecretMetadata(namespace: string, name: string): Promise<SecretMetadata | undefined> {
    const found = this.secrets.get(name, namespace);
    return found === undefined ? undefined : { metadata: structuredClone(found.metadata) };
  }

  async createSecret(secret: SecretObject): Promise<void> {
    this.maybeFail();
    const { namespace, name } = secret.metadata;
    if (this.secrets.get(name, namespace) !== undefined) return;
    this.secrets.upsert(structuredClone(secret));
    this.writes.push({ op: 'createSecret', namespace, name });
  }

  async setSecretOwners(
    namespace: string,
    name: string,
    owners: readonly OwnerReference[],
  ): Promise<void> {
    this.maybeFail();
    const current = this.secrets.get(name, namespace);
    if (current === undefined)
      throw Object.assign(new Error(`Secret ${namespace}/${name} not found`), { statusCode: 404 });
    this.secrets.upsert({
      ...current,
      metadata: { ...current.metadata, ownerReferences: structuredClone([...owners]) },
    });
    this.writes.push({ op: 'setSecretOwners', namespace, name, owners: [...owners] });
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    this.maybeFail();
    this.secrets.remove({ metadata: { namespace, name } });
    this.writes.push({ op: 'deleteSecret', namespace, name });
  }

  async getWebhookConfigurationUid(name: string): Promise<string | undefined> {
    return this.webhookConfigurations.get(name);
  }

  private store(kind: PolicyKind): ObjectStore<PalisadeResource> {
    let store = this.resources.get(kind);
    if (store === undefined) {
      store = new ObjectStore();
      this.resources.set(kind, store);
    }
    return store;
  }

  private maybeFail(): void {
    const error = this.failures.shift();
    if (error !== undefined) throw error;
  }
}
