import { describe, expect, it } from '@jest/globals';
import type { SidecarConfig } from '@palisade/crds';
import { ConfigStore, resolveConfig } from '../config/index.js';
import type { TrafficFilter } from '../raft-transport/index.js';
import { raftPartitionApplier } from './partition.js';

const base: SidecarConfig = { version: '1', app: { host: '127.0.0.1', port: 8080 } };
const partition = { experiment: 'shop/cut', type: 'partition' as const, target: 'raft' as const };
const latency = { experiment: 'shop/slow', type: 'latency' as const, delay: '10ms' };

describe('raftPartitionApplier', () => {
  it('isolates the member while its config carries a partition fault and heals when it goes', async () => {
    const filters: (TrafficFilter | undefined)[] = [];
    const node = { setPartition: (f: TrafficFilter | undefined) => void filters.push(f) };
    const store = new ConfigStore({ initial: resolveConfig({ ...base, faults: [partition] }) });
    store.register(raftPartitionApplier(node, store.current().config));
    // Applied at start: a sidecar restarted mid-experiment stays cut off.
    expect(filters).toHaveLength(1);
    expect(filters[0]?.('a', 'b')).toBe('drop');

    expect((await store.apply({ ...base, version: '2', faults: [latency] })).status).toBe(
      'applied',
    );
    expect(filters).toHaveLength(2);
    expect(filters[1]).toBeUndefined();

    // A change elsewhere leaves the filter alone.
    expect(
      (await store.apply({ ...base, version: '3', faults: [latency], logLevel: 'debug' })).status,
    ).toBe('applied');
    expect(filters).toHaveLength(2);

    expect(
      (await store.apply({ ...base, version: '4', faults: [latency, partition] })).status,
    ).toBe('applied');
    expect(filters[2]?.('b', 'a')).toBe('drop');
  });
});
