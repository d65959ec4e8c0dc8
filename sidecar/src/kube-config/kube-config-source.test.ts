/**
 * Which cache changes reach `onDecision`: a new document for this pod does, while rewrites of
 * other pods' objects, and of this pod's object that leave its `config.json` as it was (only
 * its pod list or epoch moved), do not. A client whose watch events the test delivers.
 */
import { describe, expect, it } from '@jest/globals';
import { SeededRandom } from '../core/random.js';
import type { ConfigMapClient } from './config-map-reflector.js';
import { KubeConfigSource } from './kube-config-source.js';
import {
  ASSIGNMENT_EPOCH_ANNOTATION,
  CONFIG_KEY,
  PODS_KEY,
  type PodConfigDecision,
} from './select-config.js';

const POD = 'app-1';

function configMap(
  name: string,
  resourceVersion: number,
  pods: readonly string[],
  limit: number,
  epoch = resourceVersion,
) {
  const config = {
    version: `v${limit}`,
    app: { host: '127.0.0.1', port: 8080 },
    rateLimits: [
      {
        policy: 'shop/api',
        name: 'all',
        limit: { requests: limit, period: '1m' },
        key: { type: 'global' },
        scope: 'local',
      },
    ],
  };
  return {
    metadata: {
      name,
      resourceVersion: String(resourceVersion),
      annotations: { [ASSIGNMENT_EPOCH_ANNOTATION]: String(epoch) },
    },
    data: { [CONFIG_KEY]: JSON.stringify(config), [PODS_KEY]: pods.join('\n') },
  };
}

/** A started source and a way to deliver watch events to it. */
async function startSource() {
  let deliver: ((type: string, object: unknown) => void) | undefined;
  let opened!: () => void;
  const watching = new Promise<void>((resolve) => (opened = resolve));
  const client: ConfigMapClient = {
    list: () => Promise.resolve({ items: [], resourceVersion: '1' }),
    watch: (_resourceVersion, onEvent, onDone) => {
      deliver = onEvent;
      opened();
      return Promise.resolve({ abort: () => onDone(null) });
    },
  };
  const decisions: PodConfigDecision[] = [];
  const source = new KubeConfigSource({
    client,
    namespace: 'shop',
    pod: { podName: POD, appPort: 8080, listeners: {} },
    random: new SeededRandom(1),
    onDecision: (decision) => decisions.push(decision),
  });
  expect(await source.start(5000)).toBe(true);
  await watching;
  const send = (type: string, object: unknown) => deliver?.(type, object);
  return { source, decisions, send };
}

/** The first rate limit of a decision's document, or null for no policy. */
function limitOf(decision: PodConfigDecision | undefined): number | null {
  if (decision?.kind !== 'config') return null;
  const document = decision.document as { rateLimits: { limit: { requests: number } }[] };
  return document.rateLimits[0]?.limit.requests ?? null;
}

describe('KubeConfigSource', () => {
  it('hands on a new document for this pod, and nothing for what leaves it as it was', async () => {
    const { source, decisions, send } = await startSource();
    expect(decisions.map((d) => d.kind)).toEqual(['none']); // the first, empty list

    send('ADDED', configMap('palisade-config-a', 2, [POD, 'app-2'], 100));
    expect(decisions.map(limitOf)).toEqual([null, 100]);

    // Another pod's object, then this pod's object with only its pod list and epoch changed.
    send('ADDED', configMap('palisade-config-b', 3, ['app-3'], 7));
    send('MODIFIED', configMap('palisade-config-a', 4, [POD], 100));
    expect(decisions).toHaveLength(2);

    // A policy change: the new object, then the old one deleted.
    send('ADDED', configMap('palisade-config-c', 5, [POD], 101));
    send('DELETED', configMap('palisade-config-a', 6, [POD], 100));
    expect(decisions.map(limitOf)).toEqual([null, 100, 101]);
    expect(decisions[2]).toMatchObject({ kind: 'config', name: 'palisade-config-c', epoch: 5 });

    // No object lists the pod any more, then the same document comes back: both are decisions.
    send('DELETED', configMap('palisade-config-c', 7, [POD], 101));
    send('ADDED', configMap('palisade-config-c', 8, [POD], 101));
    expect(decisions.map((d) => d.kind)).toEqual(['none', 'config', 'config', 'none', 'config']);
    await source.stop();
  });

  it('hands on an unreadable object, and the same document once it is readable again', async () => {
    const { source, decisions, send } = await startSource();
    send('ADDED', configMap('palisade-config-a', 2, [POD], 100));
    const broken = configMap('palisade-config-a', 3, [POD], 100);
    send('MODIFIED', { ...broken, data: { [PODS_KEY]: POD } });
    send('MODIFIED', configMap('palisade-config-a', 4, [POD], 100));
    expect(decisions.map((d) => d.kind)).toEqual(['none', 'config', 'invalid', 'config']);
    await source.stop();
  });
});
