import { describe, expect, it } from '@jest/globals';
import { parseOptions, type SidecarSettings } from '../options.js';
import {
  INJECTED_RAFT_PATHS,
  SIDECAR_CONTAINER_NAME,
  injectSidecar,
  type InjectablePod,
  type JsonPatchOperation,
} from './inject-sidecar.js';

const parsed = parseOptions(['--sidecar-image', 'palisade/sidecar:test'], {}, 'test');
if (parsed.kind !== 'run') throw new Error('options');
const settings: SidecarSettings = parsed.options.sidecar;

/** Minimal RFC 6902 `add`/`replace` applier, enough to check the patch really applies. */
function applyPatch<T>(document: T, patch: readonly JsonPatchOperation[]): T {
  const doc = structuredClone(document) as unknown as Record<string, unknown>;
  for (const op of patch) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() as string;
    let target: unknown = doc;
    for (const p of parts) {
      const next = (target as Record<string, unknown>)[p];
      if (next === undefined) throw new Error(`path ${op.path} does not exist`);
      target = next;
    }
    if (Array.isArray(target)) {
      if (last === '-') target.push(op.value);
      else target.splice(Number(last), op.op === 'add' ? 0 : 1, op.value);
    } else {
      if (
        op.op === 'add' &&
        Object.hasOwn(target as object, last) &&
        typeof (target as Record<string, unknown>)[last] === 'object'
      )
        throw new Error(`add over an existing object at ${op.path}`);
      (target as Record<string, unknown>)[last] = op.value;
    }
  }
  return doc as unknown as T;
}

const pod = (overrides: Partial<InjectablePod['metadata']> = {}): InjectablePod => ({
  metadata: {
    labels: { app: 'shop', 'palisade.dev/inject': 'true' },
    annotations: { 'palisade.dev/app-port': '8080' },
    ...overrides,
  },
  spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
});

type Container = {
  name: string;
  env?: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
  ports?: { name: string; containerPort: number }[];
  [key: string]: unknown;
};

function inject(p: InjectablePod) {
  const result = injectSidecar(p, settings);
  if (result.kind !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(result)}`);
  return applyPatch(p, result.patch) as InjectablePod & {
    spec: { containers: Container[]; volumes: unknown[] };
  };
}

describe('injectSidecar', () => {
  it('adds the sidecar container with every field', () => {
    const out = inject(pod());
    const sidecar = out.spec.containers.find((c) => c.name === SIDECAR_CONTAINER_NAME) as Container;
    expect(sidecar).toBeDefined();
    expect(sidecar['image']).toBe('palisade/sidecar:test');
    expect(sidecar['args']).toEqual(['--kubernetes']);
    expect(sidecar.ports).toEqual([
      { name: 'palisade-in', containerPort: 15006, protocol: 'TCP' },
      { name: 'palisade-out', containerPort: 15001, protocol: 'TCP' },
      { name: 'palisade-raft', containerPort: 15010, protocol: 'TCP' },
      { name: 'palisade-probe', containerPort: 15020, protocol: 'TCP' },
    ]);
    expect(sidecar.ports?.some((p) => p.containerPort === 15000)).toBe(false);
    const env = Object.fromEntries(
      (sidecar.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef.fieldPath]),
    );
    expect(env).toEqual({
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
      POD_IP: 'status.podIP',
      PALISADE_APP_PORT: '8080',
      PALISADE_ADMIN_PORT: '15000',
      PALISADE_INBOUND_PORT: '15006',
      PALISADE_OUTBOUND_PORT: '15001',
      PALISADE_RAFT_PORT: '15010',
      PALISADE_PROBE_PORT: '15020',
    });
    expect(env['HTTP_PROXY']).toBeUndefined();
    // HTTP probes on the probe listener, named port (declared above).
    expect(sidecar['startupProbe']).toMatchObject({
      httpGet: { path: '/livez', port: 'palisade-probe' },
    });
    expect(sidecar['livenessProbe']).toMatchObject({
      httpGet: { path: '/livez', port: 'palisade-probe' },
    });
    expect(sidecar['readinessProbe']).toMatchObject({
      httpGet: { path: '/readyz', port: 'palisade-probe' },
    });
    expect(sidecar['resources']).toEqual({
      requests: { cpu: '50m', memory: '64Mi' },
      limits: { cpu: '1', memory: '256Mi' },
    });
    expect(sidecar['securityContext']).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
    });
    expect(out.spec.volumes).toEqual([
      {
        name: 'palisade-raft-secret',
        secret: {
          secretName: 'palisade-raft',
          items: [{ key: 'key', path: 'key', mode: 0o444 }],
          optional: true,
        },
      },
      { name: 'palisade-data', emptyDir: { sizeLimit: '256Mi' } },
    ]);
    expect(sidecar['volumeMounts']).toEqual([
      { name: 'palisade-raft-secret', mountPath: '/var/run/palisade/raft', readOnly: true },
      { name: 'palisade-data', mountPath: '/var/lib/palisade' },
    ]);
  });

  it('mounts the Raft Secret and data dir at the paths the compiled config names', () => {
    const out = inject(pod());
    const sidecar = out.spec.containers.find((c) => c.name === SIDECAR_CONTAINER_NAME) as Container;
    const mounts = sidecar['volumeMounts'] as { mountPath: string; readOnly?: boolean }[];
    const under = (file: string) =>
      mounts.find((m) => file.startsWith(`${m.mountPath}/`)) ?? { mountPath: 'none' };
    // The secret file is in the read-only Secret volume, the data dir in the writable emptyDir.
    expect(under(INJECTED_RAFT_PATHS.secretFile)).toMatchObject({
      mountPath: '/var/run/palisade/raft',
      readOnly: true,
    });
    expect(INJECTED_RAFT_PATHS.secretFile).toBe('/var/run/palisade/raft/key');
    expect(under(INJECTED_RAFT_PATHS.dataDir)).toEqual({
      name: 'palisade-data',
      mountPath: '/var/lib/palisade',
    });
  });

  it("adds only the volumes the pod lacks, after the app's own", () => {
    const p = pod();
    (p.spec as { volumes?: { name: string }[] }).volumes = [
      { name: 'cache' },
      { name: 'palisade-data' },
    ];
    const out = inject(p);
    expect((out.spec.volumes as { name: string }[]).map((v) => v.name)).toEqual([
      'cache',
      'palisade-data',
      'palisade-raft-secret',
    ]);
  });

  it('points the application containers at the outbound proxy, keeping their own settings', () => {
    const p = pod();
    (p.spec?.containers ?? []).push({ name: 'worker', env: [{ name: 'NO_PROXY' }] });
    const out = inject(p);
    const envOf = (name: string) =>
      Object.fromEntries(
        ((out.spec.containers as Container[]).find((c) => c.name === name)?.env ?? []).map((e) => [
          e.name,
          e.value,
        ]),
      );
    expect(envOf('app')).toEqual({
      HTTP_PROXY: 'http://127.0.0.1:15001',
      http_proxy: 'http://127.0.0.1:15001',
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
    });
    expect(envOf('worker')['NO_PROXY']).toBeUndefined();
    expect(envOf('worker')['HTTP_PROXY']).toBe('http://127.0.0.1:15001');
  });

  it('labels the pod for the operator and records the numeric app port', () => {
    const out = inject(pod());
    expect(out.metadata?.labels?.['palisade.dev/sidecar']).toBe('injected');
    expect(out.metadata?.labels?.['app']).toBe('shop');
    expect(out.metadata?.annotations?.['palisade.dev/app-port']).toBe('8080');
    const noMeta = inject({
      metadata: { labels: { 'palisade.dev/app-port': 'http' } },
      spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 9000 }] }] },
    });
    expect(noMeta.metadata?.annotations).toEqual({ 'palisade.dev/app-port': '9000' });
  });

  it('is idempotent: an injected pod gets no patch', () => {
    const once = inject(pod());
    expect(injectSidecar(once, settings)).toEqual({ kind: 'unchanged' });
    expect(once.spec.containers.filter((c) => c.name === SIDECAR_CONTAINER_NAME)).toHaveLength(1);
  });

  it('refuses without a usable app port, naming the annotation', () => {
    const cases: Record<string, string>[] = [
      {},
      { 'palisade.dev/app-port': 'nope' },
      { 'palisade.dev/app-port': '70000' },
    ];
    for (const annotations of cases) {
      const result = injectSidecar(pod({ annotations }), settings);
      expect(result.kind).toBe('refused');
      if (result.kind === 'refused') expect(result.message).toContain('palisade.dev/app-port');
    }
    for (const port of ['15001', '15020']) {
      const clash = injectSidecar(
        pod({ annotations: { 'palisade.dev/app-port': port } }),
        settings,
      );
      expect(clash).toMatchObject({
        kind: 'refused',
        message: expect.stringContaining('collides'),
      });
    }
  });
});
