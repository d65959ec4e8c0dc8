import { describe, expect, it } from '@jest/globals';
import { createTracing, traceparentFlags } from './tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('Tracing.sample', () => {
  it('follows the parent, draws new traces at the ratio, and marks unsampled new traces', async () => {
    const draws: number[] = [];
    const tracing = createTracing({
      serviceName: 's',
      otlpEndpoint: 'http://127.0.0.1:9', // nothing is recorded, so nothing is exported
      sampleRatio: 0.1,
      random: () => draws.shift() ?? 1,
    });
    // A parent's decision wins, without a draw; its traceparent is left as it came.
    const sampledParent = ['Traceparent', `00-${TRACE}-${PARENT}-01`];
    expect(tracing.sample(sampledParent)).toBe(true);
    const unsampledParent = ['traceparent', `00-${TRACE}-${PARENT}-00`];
    expect(tracing.sample(unsampledParent)).toBe(false);
    expect(unsampledParent).toEqual(['traceparent', `00-${TRACE}-${PARENT}-00`]);
    // New traces (none, or an invalid traceparent): sampled when the draw is below the ratio.
    draws.push(0.05, 0.5, 0.5);
    expect(tracing.sample(['host', 'a'])).toBe(true);
    const unsampled = ['host', 'a'];
    expect(tracing.sample(unsampled)).toBe(false);
    expect(unsampled[2]).toBe('traceparent');
    expect(unsampled[3]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    const invalid = ['traceparent', `00-${'0'.repeat(32)}-${PARENT}-01`];
    expect(tracing.sample(invalid)).toBe(false);
    expect(invalid[1]).toMatch(/-00$/);
    expect(invalid[1]).not.toContain('0'.repeat(32));
    expect(draws).toEqual([]);
    await tracing.shutdown();
  });

  it('reads the flags of valid traceparents only', () => {
    expect(traceparentFlags(`00-${TRACE}-${PARENT}-01`)).toBe(1);
    expect(traceparentFlags(`00-${TRACE}-${PARENT}-00`)).toBe(0);
    expect(traceparentFlags(`01-${TRACE}-${PARENT}-01`)).toBe(-1);
    expect(traceparentFlags(`00-${TRACE}-${'0'.repeat(16)}-01`)).toBe(-1);
    expect(traceparentFlags('garbage')).toBe(-1);
  });

  it('is never sampled when tracing is off', () => {
    const headers = ['host', 'a'];
    expect(createTracing({ serviceName: 's', sampleRatio: 1 }).sample(headers)).toBe(false);
    expect(headers).toEqual(['host', 'a']);
  });
});
