import { describe, expect, it } from '@jest/globals';
import { MANAGED_BY_LABEL } from './config-map.js';
import { installationOwnerReference } from './installation-owner.js';
import {
  desiredRoleBinding,
  desiredSecretMetadata,
  planNamespaceObjects,
  type NamespaceObjectsState,
  type RoleBindingObject,
} from './namespace-provisioning.js';

const owner = installationOwnerReference('palisade-palisade-system', 'uid-1');
const role = 'palisade-palisade-system-sidecar';

function state(overrides: Partial<NamespaceObjectsState>): NamespaceObjectsState {
  return {
    namespace: 'shop',
    hasInjectedPods: true,
    roleBinding: undefined,
    secret: undefined,
    sidecarClusterRole: role,
    owners: [owner],
    ...overrides,
  };
}

const ops = (s: NamespaceObjectsState) => planNamespaceObjects(s).map((w) => w.op);

describe('planNamespaceObjects', () => {
  it('a namespace with injected pods gets the RoleBinding of all its service accounts and the Secret, owned', () => {
    const writes = planNamespaceObjects(state({}));
    expect(writes.map((w) => w.op)).toEqual(['applyRoleBinding', 'createSecret']);
    const binding = writes[0]?.op === 'applyRoleBinding' ? writes[0].roleBinding : undefined;
    expect(binding).toEqual({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: {
        name: 'palisade-sidecar',
        namespace: 'shop',
        labels: { [MANAGED_BY_LABEL]: 'palisade-operator' },
        ownerReferences: [
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'MutatingWebhookConfiguration',
            name: 'palisade-palisade-system',
            uid: 'uid-1',
            blockOwnerDeletion: false,
          },
        ],
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [
        {
          kind: 'Group',
          apiGroup: 'rbac.authorization.k8s.io',
          name: 'system:serviceaccounts:shop',
        },
      ],
    });
    const secret = writes[1]?.op === 'createSecret' ? writes[1].secret : undefined;
    expect(secret?.metadata).toMatchObject({
      name: 'palisade-raft',
      namespace: 'shop',
      labels: { [MANAGED_BY_LABEL]: 'palisade-operator' },
      ownerReferences: [owner],
    });
  });

  it('writes nothing when both objects are as desired (what the API server returns: defaults spelled out)', () => {
    const binding = desiredRoleBinding('shop', role, [owner]);
    const stored: RoleBindingObject = {
      ...binding,
      metadata: {
        ...binding.metadata,
        ownerReferences: [{ ...owner, blockOwnerDeletion: false, controller: false }],
      },
    };
    expect(
      ops(state({ roleBinding: stored, secret: desiredSecretMetadata('shop', [owner]) })),
    ).toEqual([]);
  });

  it('without an installation owner, objects carry no ownerReferences', () => {
    const writes = planNamespaceObjects(state({ owners: [] }));
    for (const write of writes) {
      const object =
        write.op === 'applyRoleBinding'
          ? write.roleBinding
          : write.op === 'createSecret'
            ? write.secret
            : undefined;
      expect(object?.metadata.ownerReferences).toBeUndefined();
    }
    expect(
      ops(
        state({
          owners: [],
          roleBinding: desiredRoleBinding('shop', role, []),
          secret: desiredSecretMetadata('shop', []),
        }),
      ),
    ).toEqual([]);
  });

  it('a new owner re-applies the RoleBinding and re-owns the Secret without rewriting it', () => {
    const moved = installationOwnerReference('palisade-palisade-system', 'uid-2');
    const writes = planNamespaceObjects(
      state({
        owners: [moved],
        roleBinding: desiredRoleBinding('shop', role, [owner]),
        secret: desiredSecretMetadata('shop', [owner]),
      }),
    );
    expect(writes.map((w) => w.op)).toEqual(['applyRoleBinding', 'setSecretOwners']);
    expect(writes[1]).toEqual({
      op: 'setSecretOwners',
      namespace: 'shop',
      name: 'palisade-raft',
      owners: [moved],
    });
  });

  it('a different ClusterRole deletes the RoleBinding before applying it (roleRef is immutable)', () => {
    const old = desiredRoleBinding('shop', 'old-sidecar-role', [owner]);
    expect(
      ops(state({ roleBinding: old, secret: desiredSecretMetadata('shop', [owner]) })),
    ).toEqual(['deleteRoleBinding', 'applyRoleBinding']);
  });

  it('takes over a hand-made RoleBinding of that name (the old workaround: default account only)', () => {
    const handMade: RoleBindingObject = {
      metadata: { name: 'palisade-sidecar', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: 'default', namespace: 'shop' }],
    };
    expect(
      ops(state({ roleBinding: handMade, secret: desiredSecretMetadata('shop', [owner]) })),
    ).toEqual(['applyRoleBinding']);
  });

  it("never touches a Secret of that name without the managed-by label: it is the user's key", () => {
    const users = { metadata: { name: 'palisade-raft', namespace: 'shop' } };
    const binding = desiredRoleBinding('shop', role, [owner]);
    expect(ops(state({ roleBinding: binding, secret: users }))).toEqual([]);
    expect(ops(state({ hasInjectedPods: false, secret: users }))).toEqual([]);
  });

  it("leaves another installation's objects alone (two installations never rewrite each other in turn)", () => {
    const other = installationOwnerReference('palisade-staging', 'uid-9');
    const theirs = {
      roleBinding: desiredRoleBinding('shop', 'palisade-staging-sidecar', [other]),
      secret: desiredSecretMetadata('shop', [other]),
    };
    expect(ops(state(theirs))).toEqual([]);
    expect(ops(state({ ...theirs, hasInjectedPods: false }))).toEqual([]);
    // The same configuration re-created (same name, new UID) is still this installation.
    const recreated = installationOwnerReference('palisade-palisade-system', 'uid-2');
    expect(
      ops(
        state({
          owners: [recreated],
          roleBinding: desiredRoleBinding('shop', role, [owner]),
          secret: desiredSecretMetadata('shop', [owner]),
        }),
      ),
    ).toEqual(['applyRoleBinding', 'setSecretOwners']);
  });

  it('no injected pod left: deletes both (only if the operator made them)', () => {
    expect(
      ops(
        state({
          hasInjectedPods: false,
          roleBinding: desiredRoleBinding('shop', role, [owner]),
          secret: desiredSecretMetadata('shop', [owner]),
        }),
      ),
    ).toEqual(['deleteRoleBinding', 'deleteSecret']);
    expect(ops(state({ hasInjectedPods: false }))).toEqual([]);
  });
});
