// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { due, percentile, runLoad, Stats } from './load.js';

test('due: an open-loop schedule catches up on late ticks and never goes negative', () => {
  assert.equal(due(50, 0, 0), 0);
  assert.equal(due(50, 1000, 0), 50);
  assert.equal(due(50, 1000, 48), 2);
  assert.equal(due(50, 100, 10), 0);
});

test('percentile: nearest rank', () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 99), 4);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('Stats counts statuses and outcomes and reports a rate', () => {
  const stats = new Stats();
  stats.record({ status: 201, outcome: 'placed', latencyMs: 4 });
  stats.record({ status: 429, outcome: 'rate-limited', latencyMs: 1 });
  const summary = stats.summary(2000);
  assert.deepEqual(
    [summary.requests, summary.perSecond, stats.status(429), stats.outcome('placed')],
    [2, 1, 1, 1],
  );
});

test('runLoad sends at the rate asked and waits for every answer', async () => {
  let answered = 0;
  const { stats } = await runLoad({
    rate: 100,
    durationMs: 300,
    send: async () => {
      answered++;
      return { status: 200, outcome: 'ok', latencyMs: 0 };
    },
  });
  assert.equal(stats.count, answered);
  assert.ok(answered >= 25 && answered <= 30, `sent ${answered}`);
});

test('sumMetric adds the samples whose labels match', async () => {
  const { sumMetric } = await import('./kube.js');
  const text = [
    '# TYPE palisade_rate_limited_total counter',
    'palisade_rate_limited_total{policy="shop/a",rule="r"} 3',
    'palisade_rate_limited_total{policy="shop/b",rule="r"} 4',
    'palisade_rate_limited_total_other 9',
  ].join('\n');
  assert.equal(sumMetric(text, 'palisade_rate_limited_total'), 7);
  assert.equal(sumMetric(text, 'palisade_rate_limited_total', { policy: 'shop/b' }), 4);
});
