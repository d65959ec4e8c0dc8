import { describe, expect, it } from '@jest/globals';
import { validateConfigDocument } from '../config/load-config.js';
import {
  ASSIGNMENT_EPOCH_ANNOTATION,
  CONFIG_KEY,
  NO_POLICY_VERSION,
  PODS_KEY,
  decidePodConfig,
  listsPod,
  noPolicyDocument,
  podConfigDocument,
  selectConfigMap,
  toConfigMapView,
  type ConfigMapView,
  type PodIdentity,
} from './select-config.js';

const pod: PodIdentity = { podName: 'checkout-1', appPort: 8080, listeners: { admin: 15100 } };

function configMap(name: string, pods: string[], epoch?: number, config: unknown = shared(name)) {
  return {
    metadata: {
      name,
      resourceVersion: `rv-${name}`,
      ...(epoch === undefined
        ? {}
        : { annotations: { [ASSIGNMENT_EPOCH_ANNOTATION]: String(epoch) } }),
    },
    data: {
      [CONFIG_KEY]: typeof config === 'string' ? config : JSON.stringify(config),
      [PODS_KEY]: pods.join('\n'),
    },
  };
}

function shared(version: string) {
  return {
    version,
    app: { host: '127.0.0.1', port: 8080 },
    listeners: { admin: 15000, inbound: 15006, outbound: 15001, raft: 15010 },
    raft: {
      group: 'shop/checkout',
      peers: [{ id: 'checkout-1', address: '10.0.0.1:15010', voter: true }],
    },
  };
}

function views(...objects: unknown[]): ConfigMapView[] {
  return objects.map((o) => toConfigMapView(o) as ConfigMapView);
}

describe('toConfigMapView', () => {
  it('reads name, version, epoch, pods and config text', () => {
    const view = toConfigMapView(configMap('palisade-config-a', ['p1', 'p2'], 42));
    expect(view).toMatchObject({
      name: 'palisade-config-a',
      resourceVersion: 'rv-palisade-config-a',
      epoch: 42,
    });
    expect(view?.podsText).toBe('p1\np2');
    expect(view?.configText).toContain('"version"');
  });

  it('refuses what is not a named object, and tolerates missing or odd fields', () => {
    for (const bad of [null, 7, 'x', [], {}, { metadata: {} }, { metadata: { name: '' } }])
      expect(toConfigMapView(bad)).toBeNull();
    const odd = toConfigMapView({
      metadata: { name: 'n', annotations: { [ASSIGNMENT_EPOCH_ANNOTATION]: 'soon' } },
      data: { [PODS_KEY]: 3 },
    });
    expect(odd).toMatchObject({ name: 'n', epoch: 0, configText: undefined, resourceVersion: '' });
    expect(odd?.podsText).toBe('');
    expect(
      toConfigMapView({
        metadata: { name: 'n', annotations: { [ASSIGNMENT_EPOCH_ANNOTATION]: '-5' } },
      })?.epoch,
    ).toBe(0);
  });
});

describe('listsPod', () => {
  it('finds whole lines only, anywhere in the list', () => {
    expect(listsPod('a\nb\nc', 'a')).toBe(true);
    expect(listsPod('a\nb\nc', 'b')).toBe(true);
    expect(listsPod('a\nb\nc', 'c')).toBe(true);
    expect(listsPod('web-10\nweb-1x\nxweb-1', 'web-1')).toBe(false);
    expect(listsPod('web-10\nweb-1x\nweb-1', 'web-1')).toBe(true);
    expect(listsPod('', 'a')).toBe(false);
    expect(listsPod('a\n\nb', '')).toBe(false);
  });

  it('agrees with splitting the list, on random lists and names', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const alphabet = ['a', 'b', '-', '1'];
    const word = () =>
      Array.from({ length: 1 + (next() % 3) }, () => alphabet[next() % 4]).join('');
    for (let i = 0; i < 2000; i++) {
      const lines = Array.from({ length: next() % 5 }, word);
      const pod = word();
      expect(listsPod(lines.join('\n'), pod)).toBe(lines.includes(pod));
    }
  });
});

describe('selectConfigMap', () => {
  it('takes the object that lists the pod, ignoring the others', () => {
    const objects = views(configMap('a', ['other']), configMap('b', ['checkout-10', 'checkout-1']));
    expect(selectConfigMap(objects, 'checkout-1')?.name).toBe('b');
  });

  it('matches whole names only (checkout-1 is not checkout-10)', () => {
    expect(selectConfigMap(views(configMap('a', ['checkout-10'])), 'checkout-1')).toBeNull();
  });

  it('prefers the larger epoch when two objects list the pod, whatever the order', () => {
    const older = configMap('z-old', ['checkout-1'], 100);
    const newer = configMap('a-new', ['checkout-1'], 200);
    expect(selectConfigMap(views(older, newer), 'checkout-1')?.name).toBe('a-new');
    expect(selectConfigMap(views(newer, older), 'checkout-1')?.name).toBe('a-new');
  });

  it('breaks an epoch tie by name, so every sidecar decides alike', () => {
    const b = configMap('b', ['checkout-1'], 5);
    const a = configMap('a', ['checkout-1'], 5);
    expect(selectConfigMap(views(b, a), 'checkout-1')?.name).toBe('a');
    expect(selectConfigMap(views(a, b), 'checkout-1')?.name).toBe('a');
  });

  it('finds nothing in an empty namespace', () => {
    expect(selectConfigMap([], 'checkout-1')).toBeNull();
  });
});

describe('podConfigDocument', () => {
  it('sets raft.id to the pod and the pod-spec listener ports, and the result validates', () => {
    const document = podConfigDocument(JSON.stringify(shared('v1')), pod, 'test') as ReturnType<
      typeof shared
    > & {
      raft: { id: string };
    };
    expect(document.raft.id).toBe('checkout-1');
    expect(document.listeners).toEqual({
      admin: 15100,
      inbound: 15006,
      outbound: 15001,
      raft: 15010,
    });
    const resolved = validateConfigDocument(document, 'test');
    expect(resolved.raft?.id).toBe('checkout-1');
  });

  it('adds no raft section where the shared document has none', () => {
    const withoutRaft: Partial<ReturnType<typeof shared>> = shared('v1');
    delete withoutRaft.raft;
    expect(podConfigDocument(JSON.stringify(withoutRaft), pod, 'test')).not.toHaveProperty('raft');
  });

  it('throws a CONFIG_PARSE_FAILED ConfigError for text that is not JSON', () => {
    expect(() => podConfigDocument('{nope', pod, 'cm')).toThrow(
      expect.objectContaining({ code: 'CONFIG_PARSE_FAILED' }),
    );
  });
});

describe('noPolicyDocument', () => {
  it('is a valid config with no policy, proxying to the app port', () => {
    const resolved = validateConfigDocument(noPolicyDocument(pod), 'no-policy');
    expect(resolved.version).toBe(NO_POLICY_VERSION);
    expect(resolved.app).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(resolved.listeners.admin).toBe(15100);
    expect(resolved.rateLimits).toEqual([]);
  });
});

describe('decidePodConfig', () => {
  it('names the selected object and its resourceVersion as the source', () => {
    const decision = decidePodConfig(
      selectConfigMap(views(configMap('a', ['checkout-1'], 3)), pod.podName),
      pod,
      'shop',
    );
    expect(decision).toMatchObject({
      kind: 'config',
      name: 'a',
      epoch: 3,
      source: 'configmap shop/a@rv-a',
    });
  });

  it('falls back to the no-policy document when nothing lists the pod', () => {
    const decision = decidePodConfig(
      selectConfigMap(views(configMap('a', ['other'])), pod.podName),
      pod,
      'shop',
    );
    expect(decision.kind).toBe('none');
    expect(decision.kind === 'none' && decision.document).toEqual(noPolicyDocument(pod));
  });

  it('reports an object without config.json, or with broken JSON, as invalid', () => {
    const missing = {
      metadata: { name: 'a', resourceVersion: '1' },
      data: { [PODS_KEY]: 'checkout-1' },
    };
    const broken = configMap('b', ['checkout-1'], 1, '{"version":');
    expect(
      decidePodConfig(selectConfigMap(views(missing), pod.podName), pod, 'shop'),
    ).toMatchObject({
      kind: 'invalid',
      error: { code: 'CONFIG_READ_FAILED' },
    });
    expect(decidePodConfig(selectConfigMap(views(broken), pod.podName), pod, 'shop')).toMatchObject(
      {
        kind: 'invalid',
        error: { code: 'CONFIG_PARSE_FAILED' },
      },
    );
  });
});
