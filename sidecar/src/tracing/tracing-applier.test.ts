import { describe, expect, it } from '@jest/globals';
import { ConfigStore } from '../config/config-store.js';
import { validateConfigDocument } from '../config/load-config.js';
import { createTracing, type Tracing } from './tracing.js';
import { tracingApplier } from './tracing-applier.js';

const base = { version: 'v1', app: { host: '127.0.0.1', port: 8080 } };

describe('tracingApplier', () => {
  it('swaps tracing only when the tracing section changes, and shuts the old one down', async () => {
    const initial = validateConfigDocument(base);
    const store = new ConfigStore({ initial });
    let current: Tracing = createTracing({ serviceName: 's', ...initial.tracing });
    let shutdowns = 0;
    const first = current;
    current = { ...first, shutdown: () => Promise.resolve(void shutdowns++) };
    const swaps: Tracing[] = [];
    store.register(
      tracingApplier({
        serviceName: 's',
        current: () => current,
        swap: (next) => {
          swaps.push(next);
          current = next;
        },
        shutdownDelayMs: 0,
      }),
    );

    await store.apply({ ...base, version: 'v2', logLevel: 'debug' });
    expect(swaps).toHaveLength(0);

    await store.apply({
      ...base,
      version: 'v3',
      tracing: { otlpEndpoint: 'http://127.0.0.1:1', sampleRatio: 0.5 },
    });
    expect(swaps).toHaveLength(1);
    expect(current.enabled).toBe(true);
    const deadline = Date.now() + 2000;
    while (shutdowns === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(shutdowns).toBe(1);
    await current.shutdown();
  });
});
