import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, allKinds } from '@palisade/crds';
import type { PolicyKind } from '../compiler/types.js';
import { TerminalReconcileError } from '../queue/errors.js';
import type { PodLike } from '../informer/pod-info.js';
import {
  FIELD_MANAGER,
  isManagedConfigMap,
  type ConfigMapObject,
} from '../reconcilers/config-map.js';
import type { OwnerReference } from '../reconcilers/installation-owner.js';
import type { KubeApi, ResourceOf } from '../reconcilers/kube-api.js';
import type {
  RoleBindingObject,
  SecretMetadata,
  SecretObject,
} from '../reconcilers/namespace-provisioning.js';

/** The informer caches the adapter reads from (see informer/kube-informers.ts). */
export interface CacheSources {
  pods: { list(namespace?: string): readonly KubernetesObject[] };
  configMaps: { list(namespace?: string): readonly KubernetesObject[] };
  kinds: ReadonlyMap<
    string,
    {
      list(namespace?: string): readonly KubernetesObject[];
      get(name: string, namespace?: string): KubernetesObject | undefined;
    }
  >;
}

/**
 * The real `KubeApi`: reads from informer caches (no API calls), writes with server-side apply
 * under field manager `palisade-operator`. Deliberately thin — e2e-tested on the local control
 * plane. The casts from `KubernetesObject` are the boundary to the untyped cache.
 */
export class KubeApiClient implements KubeApi {
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly rbac: RbacAuthorizationV1Api;
  private readonly admission: AdmissionregistrationV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly caches: CacheSources,
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    this.admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  }

  async listPods(namespace: string): Promise<PodLike[]> {
    return this.caches.pods.list(namespace) as PodLike[];
  }

  async listResources<K extends PolicyKind>(kind: K, namespace: string): Promise<ResourceOf<K>[]> {
    return (this.kindCache(kind).list(namespace) as unknown as ResourceOf<K>[]).map((r) => ({
      ...r,
      kind,
    }));
  }

  async getResource<K extends PolicyKind>(
    kind: K,
    namespace: string,
    name: string,
  ): Promise<ResourceOf<K> | undefined> {
    const r = this.kindCache(kind).get(name, namespace) as unknown as ResourceOf<K> | undefined;
    return r === undefined ? undefined : { ...r, kind };
  }

  async listConfigMaps(namespace: string): Promise<ConfigMapObject[]> {
    return (this.caches.configMaps.list(namespace) as unknown as ConfigMapObject[]).filter(
      isManagedConfigMap,
    );
  }

  async applyConfigMap(configMap: ConfigMapObject): Promise<void> {
    await this.serverSideApply(configMap as KubernetesObject);
  }

  async deleteConfigMap(namespace: string, name: string): Promise<void> {
    await ignoreNotFound(this.core.deleteNamespacedConfigMap({ namespace, name }));
  }

  async applyStatus(
    kind: PolicyKind,
    namespace: string,
    name: string,
    status: object,
  ): Promise<void> {
    const def = allKinds.find((k) => k.kind === kind);
    if (def === undefined) throw new Error(`unknown kind ${kind}`);
    // Gone since it was read: nothing to report on.
    await ignoreNotFound(
      classify(
        this.custom.patchNamespacedCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            namespace,
            plural: def.plural,
            name,
            body: { apiVersion: API_VERSION, kind, metadata: { name, namespace }, status },
            fieldManager: FIELD_MANAGER,
            force: true,
          },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        ),
      ),
    );
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<void> {
    await ignoreNotFound(
      this.core.deleteNamespacedPod({
        namespace,
        name,
        ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
      }),
    );
  }

  async getRoleBinding(namespace: string, name: string): Promise<RoleBindingObject | undefined> {
    return (await orUndefined(this.rbac.readNamespacedRoleBinding({ namespace, name }))) as
      RoleBindingObject | undefined;
  }

  async applyRoleBinding(roleBinding: RoleBindingObject): Promise<void> {
    await this.serverSideApply(roleBinding as KubernetesObject);
  }

  async deleteRoleBinding(namespace: string, name: string): Promise<void> {
    await ignoreNotFound(this.rbac.deleteNamespacedRoleBinding({ namespace, name }));
  }

  async getSecretMetadata(namespace: string, name: string): Promise<SecretMetadata | undefined> {
    const secret = await orUndefined(this.core.readNamespacedSecret({ namespace, name }));
    if (secret === undefined) return undefined;
    const { labels, ownerReferences } = secret.metadata ?? {};
    // Only what the reconciler compares: the data (the key) is dropped here.
    return {
      metadata: {
        name,
        namespace,
        ...(labels === undefined ? {} : { labels }),
        ...(ownerReferences === undefined ? {} : { ownerReferences }),
      },
    };
  }

  async createSecret(secret: SecretObject): Promise<void> {
    try {
      await classify(
        this.core.createNamespacedSecret({
          namespace: secret.metadata.namespace,
          body: secret,
          fieldManager: FIELD_MANAGER,
        }),
      );
    } catch (error) {
      // Created meanwhile (another pass, or the user): never overwritten.
      if (error instanceof ApiException && error.code === 409) return;
      throw error;
    }
  }

  async setSecretOwners(
    namespace: string,
    name: string,
    owners: readonly OwnerReference[],
  ): Promise<void> {
    // A merge patch of metadata.ownerReferences only: the data is never sent again.
    await classify(
      this.core.patchNamespacedSecret(
        {
          namespace,
          name,
          body: { metadata: { ownerReferences: owners } },
          fieldManager: FIELD_MANAGER,
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    await ignoreNotFound(this.core.deleteNamespacedSecret({ namespace, name }));
  }

  async getWebhookConfigurationUid(name: string): Promise<string | undefined> {
    const found = await orUndefined(this.admission.readMutatingWebhookConfiguration({ name }));
    return found?.metadata?.uid;
  }

  private kindCache(kind: PolicyKind) {
    const cache = this.caches.kinds.get(kind);
    if (cache === undefined) throw new Error(`no informer for ${kind}`);
    return cache;
  }

  /** Server-side apply of a whole object, forced: the operator owns every field it writes. */
  private async serverSideApply(object: KubernetesObject): Promise<void> {
    await classify(
      this.objects.patch(
        object,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      ),
    );
  }
}

/**
 * Maps refusals that a retry cannot fix (400 Bad Request, 422 Invalid: our document does not
 * fit the schema) to TerminalReconcileError; everything else stays retryable.
 */
async function classify<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof ApiException && (error.code === 400 || error.code === 422)) {
      throw new TerminalReconcileError(
        `API server refused the write (${error.code}): ${String(error.body)}`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
}

/** The answer, or undefined on 404 Not Found. */
async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return undefined;
    throw error;
  }
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return;
    throw error;
  }
}
