// @ts-check
// The Grafana dashboard and the Prometheus alert rules query only metrics (and labels) that the
// sidecar and the operator really export, in well-formed PromQL: promtool is not available here,
// so the structure is checked by hand (brackets, range durations, known functions, rule fields).
// Needs the packages built (`npx tsc -b`): the registries are read from sidecar/ and operator/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { OperatorMetrics } from '../operator/dist/server/metrics.js';
import { Metrics } from '../sidecar/dist/metrics/index.js';
import { dashboard } from './grafana/dashboard.js';

const here = dirname(fileURLToPath(import.meta.url));
const dashboardJson = JSON.parse(
  readFileSync(join(here, 'grafana/palisade-dashboard.json'), 'utf8'),
);
const rules = parse(readFileSync(join(here, 'prometheus/palisade-alerts.yaml'), 'utf8'));

/** Labels a Kubernetes pod scrape adds to every series. */
const TARGET_LABELS = ['namespace', 'pod', 'instance', 'job'];
const FUNCTIONS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'increase',
  'irate',
  'histogram_quantile',
  'absent',
  'changes',
  'clamp_min',
]);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'bool', 'le']);

/** Exported series names → their label names (histograms: _bucket with le, _sum, _count). */
async function exported() {
  /** @type {Map<string, Set<string>>} */
  const names = new Map();
  const registries = [
    new Metrics().registry,
    new OperatorMetrics({ queueDepths: () => new Map(), isLeader: () => false }).registry,
  ];
  for (const registry of registries) {
    for (const metric of /** @type {any[]} */ (registry.getMetricsAsArray())) {
      const labels = new Set(/** @type {string[]} */ (metric.labelNames ?? []));
      const type = metric.type ?? (await metric.get()).type;
      if (type === 'histogram') {
        names.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
        names.set(`${metric.name}_sum`, labels);
        names.set(`${metric.name}_count`, labels);
      } else names.set(metric.name, labels);
    }
  }
  return names;
}
const EXPORTED = await exported();

/**
 * Checks one expression; returns the labels its result keeps (for alert templates).
 * @param {string} expr
 * @param {string} where
 */
function checkExpr(expr, where) {
  const stack = [];
  for (const ch of expr) {
    if ('({['.includes(ch)) stack.push(ch);
    if (')}]'.includes(ch))
      assert.equal(
        stack.pop(),
        { ')': '(', '}': '{', ']': '[' }[ch],
        `${where}: unbalanced ${ch} in ${expr}`,
      );
  }
  assert.equal(stack.length, 0, `${where}: unclosed bracket in ${expr}`);
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  for (const range of withoutStrings.match(/\[[^\]]*\]/g) ?? []) {
    assert.match(range, /^\[\d+[smhd]\]$/, `${where}: bad range ${range}`);
  }
  /** @type {Set<string>} */
  const labels = new Set(TARGET_LABELS);
  let metrics = 0;
  for (const m of withoutStrings.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(\{[^}]*\}|\()?/g)) {
    const [, name = '', after = ''] = m;
    if (after === '(') {
      if (!KEYWORDS.has(name))
        assert.ok(FUNCTIONS.has(name), `${where}: unknown function ${name}()`);
      continue;
    }
    if (!name.startsWith('palisade_')) continue;
    metrics++;
    const known = EXPORTED.get(name);
    assert.ok(known, `${where}: ${name} is not exported by the sidecar or the operator`);
    known.forEach((l) => labels.add(l));
    for (const matcher of after
      .slice(1, -1)
      .split(',')
      .filter((s) => s.trim() !== '')) {
      const label = matcher.trim().split(/[=!~]/)[0] ?? '';
      assert.ok(
        known.has(label) || TARGET_LABELS.includes(label),
        `${where}: ${name} has no label ${label}`,
      );
    }
  }
  assert.ok(metrics > 0, `${where}: queries no palisade_ metric: ${expr}`);
  const grouped = [...withoutStrings.matchAll(/\bby \(([^)]*)\)/g)].map(
    (g) => g[1]?.split(',').map((s) => s.trim()) ?? [],
  );
  for (const group of grouped)
    for (const l of group)
      assert.ok(labels.has(l), `${where}: groups by ${l}, which no queried series has`);
  // The outermost aggregation decides what survives: labels of its `by`, or all when none.
  const outer = /^\s*(sum|max|min|avg|count) by \(([^)]*)\)/.exec(withoutStrings);
  if (outer) return new Set(outer[2]?.split(',').map((s) => s.trim()));
  if (/^\s*(sum|max|min|avg|count)\s*\(/.test(withoutStrings)) return new Set();
  return labels;
}

test('the dashboard JSON is what deploy/grafana/dashboard.js generates', () => {
  assert.deepEqual(dashboardJson, dashboard());
});

test('every dashboard query uses exported metrics and labels, in well-formed PromQL', () => {
  const panels = dashboardJson.panels.filter((/** @type {any} */ p) => p.type !== 'row');
  assert.ok(panels.length >= 12);
  const ids = dashboardJson.panels.map((/** @type {any} */ p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const used = new Set();
  for (const panel of panels) {
    assert.ok(panel.targets.length > 0, `${panel.title}: no query`);
    for (const target of panel.targets) {
      checkExpr(target.expr, `panel "${panel.title}"`);
      for (const name of target.expr.match(/palisade_[a-z0-9_]+/g))
        used.add(name.replace(/_bucket$/, ''));
    }
  }
  // The features of API.md each have a panel.
  for (const name of [
    'palisade_rate_limited_total',
    'palisade_circuit_breaker_state',
    'palisade_faults_injected_total',
    'palisade_saga_instances',
    'palisade_lease_grants_total',
    'palisade_operator_leader',
  ]) {
    assert.ok(used.has(name), `no panel shows ${name}`);
  }
});

test('alert rules are well-formed and query exported metrics; templates use labels that survive', () => {
  const seen = new Set();
  const all = rules.groups.flatMap((/** @type {any} */ g) => {
    assert.match(g.name, /^palisade-[a-z-]+$/);
    return g.rules;
  });
  assert.ok(all.length >= 8);
  for (const rule of all) {
    const where = `alert ${rule.alert}`;
    assert.match(rule.alert, /^Palisade[A-Z][A-Za-z]+$/, `${where}: name`);
    assert.ok(!seen.has(rule.alert), `${where}: duplicate`);
    seen.add(rule.alert);
    assert.deepEqual(
      Object.keys(rule).filter(
        (k) => !['alert', 'expr', 'for', 'labels', 'annotations'].includes(k),
      ),
      [],
      `${where}: unknown fields`,
    );
    if (rule.for !== undefined) assert.match(rule.for, /^\d+[smh]$/, `${where}: for`);
    assert.ok(
      ['info', 'warning', 'critical'].includes(rule.labels?.severity),
      `${where}: severity`,
    );
    assert.ok(
      rule.annotations?.summary && rule.annotations?.description,
      `${where}: summary and description`,
    );
    assert.match(rule.expr, /(==|<|>|!=)\s*[\d.]+\s*$/, `${where}: compares to a threshold`);
    const kept = checkExpr(rule.expr, where);
    const text = `${rule.annotations.summary} ${rule.annotations.description}`;
    for (const ref of text.matchAll(/\$labels\.([a-z_]+)/g)) {
      assert.ok(
        kept.has(/** @type {string} */ (ref[1])),
        `${where}: $labels.${ref[1]} is not kept by the expression`,
      );
    }
  }
});

test('the checker itself refuses what it should', () => {
  assert.throws(() => checkExpr('rate(palisade_nope_total[1m])', 't'), /not exported/);
  assert.throws(
    () => checkExpr('rate(palisade_requests_total{colour="red"}[1m])', 't'),
    /no label colour/,
  );
  assert.throws(() => checkExpr('rate(palisade_requests_total[1x])', 't'), /bad range/);
  assert.throws(() => checkExpr('sum(rate(palisade_requests_total[1m])', 't'), /unclosed/);
  assert.throws(
    () => checkExpr('sum by (colour) (palisade_requests_total)', 't'),
    /groups by colour/,
  );
  assert.throws(() => checkExpr('frobnicate(palisade_requests_total)', 't'), /unknown function/);
});
