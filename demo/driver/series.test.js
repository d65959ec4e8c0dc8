// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dashboardHtml } from './render-dashboard.js';
import { combine, keysOf, parseLine, rateOf, valuesOf } from './series.js';

const podA = [
  '# TYPE palisade_requests_total counter',
  'palisade_requests_total{direction="inbound",route="default",code="201"} 10',
  'palisade_requests_total{direction="outbound",route="payments.shop.svc.cluster.local",code="201"} 4',
  'palisade_circuit_breaker_state{breaker="shop/payments",target="payments.shop.svc.cluster.local"} 0',
  'palisade_process_cpu_seconds_total 3',
].join('\n');
const podB = [
  'palisade_requests_total{direction="inbound",route="default",code="201"} 5',
  'palisade_circuit_breaker_state{breaker="shop/payments",target="payments.shop.svc.cluster.local"} 1',
].join('\n');

test('parseLine reads names, labels and values, and skips comments', () => {
  assert.deepEqual(parseLine('palisade_x{a="1",b="q\\"x"} 2.5'), {
    name: 'palisade_x',
    labels: { a: '1', b: 'q\\"x' },
    value: 2.5,
  });
  assert.deepEqual(parseLine('palisade_y 7'), { name: 'palisade_y', labels: {}, value: 7 });
  assert.equal(parseLine('# HELP palisade_y y'), null);
});

test('combine sums counters over pods and routes, takes the worst breaker state, drops the rest', () => {
  assert.deepEqual(combine([podA, podB]), {
    'palisade_requests_total{direction="inbound",code="201"}': 15,
    'palisade_requests_total{direction="outbound",code="201"}': 4,
    'palisade_circuit_breaker_state{breaker="shop/payments"}': 1,
  });
});

test('rates are per second and never negative when a pod disappears', () => {
  const key = 'k{}';
  const samples = [
    { t: 0, values: { [key]: 10 } },
    { t: 2000, values: { [key]: 30 } },
    { t: 4000, values: { [key]: 5 } },
  ];
  assert.deepEqual(rateOf(samples, key), [
    [2000, 10],
    [4000, 0],
  ]);
  assert.deepEqual(valuesOf(samples, key), [
    [0, 10],
    [2000, 30],
    [4000, 5],
  ]);
  assert.deepEqual(keysOf(samples, 'k'), [key]);
});

test('the page has one panel per dashboard row entry, with a line for every series seen', () => {
  const samples = [
    { t: 0, values: combine([podA]) },
    { t: 2000, values: combine([podA, podB]) },
  ];
  const html = dashboardHtml({ samples, marks: [{ t: 1000, label: 'Traffic' }] });
  assert.equal((html.match(/<svg /g) ?? []).length, 7);
  assert.equal((html.match(/<polyline /g) ?? []).length, 3, 'inbound 201, outbound 201, breaker');
  assert.match(html, /<li>Traffic<\/li>/);
});
