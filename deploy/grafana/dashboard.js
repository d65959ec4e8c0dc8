#!/usr/bin/env node
// @ts-check
/**
 * Generates palisade-dashboard.json (Grafana, schema 39) from the short panel list below, so
 * the JSON stays consistent (ids, grid positions, datasource) and reviewable here:
 *   node deploy/grafana/dashboard.js > deploy/grafana/palisade-dashboard.json
 * deploy/metrics.test.js checks the JSON is this output and that every metric it queries is one
 * the sidecar or the operator exports.
 */

/** @typedef {{ expr: string, legend: string }} Query */
/** @typedef {{ title: string, description: string, unit: string, queries: Query[], type?: 'timeseries' | 'stat' | 'state-timeline' }} Panel */
/** @typedef {{ row: string, panels: Panel[] }} Row */

/** @param {string} expr @param {string} legend @returns {Query} */
const q = (expr, legend) => ({ expr, legend });

/** @type {Row[]} */
export const ROWS = [
  {
    row: 'Traffic through the sidecars',
    panels: [
      {
        title: 'Requests/s by direction and status',
        description: 'Every request the sidecars proxied (inbound: to the app; outbound: from it).',
        unit: 'reqps',
        queries: [
          q(
            'sum by (direction, code) (rate(palisade_requests_total[1m]))',
            '{{direction}} {{code}}',
          ),
        ],
      },
      {
        title: 'Error ratio (5xx and no answer)',
        description: 'Share of proxied requests answered 5xx or not at all (code 0).',
        unit: 'percentunit',
        queries: [
          q(
            'sum by (direction) (rate(palisade_requests_total{code=~"5..|0"}[1m])) / sum by (direction) (rate(palisade_requests_total[1m]))',
            '{{direction}}',
          ),
        ],
      },
      {
        title: 'Latency p50 / p99',
        description: 'Request head parsed to response delivered, including the upstream.',
        unit: 's',
        queries: [
          q(
            'histogram_quantile(0.5, sum by (le, direction) (rate(palisade_request_duration_seconds_bucket[1m])))',
            'p50 {{direction}}',
          ),
          q(
            'histogram_quantile(0.99, sum by (le, direction) (rate(palisade_request_duration_seconds_bucket[1m])))',
            'p99 {{direction}}',
          ),
        ],
      },
    ],
  },
  {
    row: 'Policies: rate limits, circuit breakers, chaos, retries',
    panels: [
      {
        title: '429s/s by RateLimitPolicy rule',
        description: 'Requests refused by a rate-limit rule.',
        unit: 'reqps',
        queries: [
          q('sum by (policy, rule) (rate(palisade_rate_limited_total[1m]))', '{{policy}} {{rule}}'),
        ],
      },
      {
        title: 'Circuit breakers (0 closed, 1 open, 2 half-open)',
        description: 'Worst state of each breaker over its sidecars.',
        unit: 'none',
        type: 'state-timeline',
        queries: [
          q(
            'max by (breaker, target) (palisade_circuit_breaker_state)',
            '{{breaker}} → {{target}}',
          ),
        ],
      },
      {
        title: 'Faults injected/s by ChaosExperiment',
        description: 'Latency, aborts and partitions applied by the sidecars.',
        unit: 'ops',
        queries: [
          q(
            'sum by (experiment, type) (rate(palisade_faults_injected_total[1m]))',
            '{{experiment}} {{type}}',
          ),
        ],
      },
      {
        title: 'Retries/s and Redis decisions missed',
        description:
          'Outbound retries; global rate-limit checks Redis could not answer in time (failureMode applied).',
        unit: 'ops',
        queries: [
          q('sum by (route) (rate(palisade_retries_total[1m]))', 'retries {{route}}'),
          q(
            'sum by (policy) (rate(palisade_rate_limit_backend_errors_total[1m]))',
            'Redis missed {{policy}}',
          ),
        ],
      },
    ],
  },
  {
    row: 'Raft, leases and sagas',
    panels: [
      {
        title: 'Raft leaders and leader changes',
        description: 'Sidecars that are leader now, and leader changes over 5 minutes.',
        unit: 'none',
        queries: [
          q('sum(palisade_raft_role{role="leader"})', 'leaders'),
          q('sum(increase(palisade_raft_leader_changes_total[5m]))', 'leader changes (5m)'),
        ],
      },
      {
        title: 'Raft log: commits/s and append p99',
        description:
          'Entries committed per second (highest index seen) and time to persist a batch.',
        unit: 'none',
        queries: [
          q('max(rate(palisade_raft_commit_index[1m]))', 'commits/s'),
          q(
            'histogram_quantile(0.99, sum by (le) (rate(palisade_raft_append_duration_seconds_bucket[5m])))',
            'append p99 (s)',
          ),
        ],
      },
      {
        title: 'Lease grants and conflicts/s',
        description: 'Leases granted, and requests refused with 409.',
        unit: 'ops',
        queries: [
          q('sum(rate(palisade_lease_grants_total[1m]))', 'grants'),
          q('sum(rate(palisade_lease_conflicts_total[1m]))', 'conflicts'),
        ],
      },
      {
        title: 'Saga instances by state',
        description:
          'Instances known to the leaders (max over sidecars: every member holds the same table).',
        unit: 'none',
        queries: [q('max by (saga, state) (palisade_saga_instances)', '{{saga}} {{state}}')],
      },
      {
        title: 'Saga duration p99 and compensations/s',
        description: 'Finished instances by final status; compensation steps run.',
        unit: 's',
        queries: [
          q(
            'histogram_quantile(0.99, sum by (le, saga, status) (rate(palisade_saga_execution_duration_seconds_bucket[5m])))',
            'p99 {{saga}} {{status}}',
          ),
          q('sum(rate(palisade_saga_compensations_total[1m]))', 'compensations/s'),
        ],
      },
    ],
  },
  {
    row: 'Operator and sidecar health',
    panels: [
      {
        title: 'Reconcile p99 and errors/s by controller',
        description: 'Time of one reconcile; failed reconciles (retryable or terminal).',
        unit: 's',
        queries: [
          q(
            'histogram_quantile(0.99, sum by (le, controller) (rate(palisade_operator_reconcile_duration_seconds_bucket[5m])))',
            'p99 {{controller}}',
          ),
          q(
            'sum by (controller, kind) (rate(palisade_operator_reconcile_errors_total[5m]))',
            'errors {{controller}} {{kind}}',
          ),
        ],
      },
      {
        title: 'Operator: leader, queue depth, admissions',
        description: 'Replicas leading (should be 1), keys waiting, webhook decisions per second.',
        unit: 'none',
        queries: [
          q('sum(palisade_operator_leader)', 'leaders'),
          q('sum by (controller) (palisade_operator_queue_depth)', 'queue {{controller}}'),
          q(
            'sum by (outcome) (rate(palisade_operator_webhook_admissions_total[5m]))',
            'admissions {{outcome}}',
          ),
        ],
      },
      {
        title: 'Sidecar config reloads refused and memory',
        description:
          'Config reloads refused (the last good config stays in force); resident memory per sidecar.',
        unit: 'bytes',
        queries: [
          q('sum(increase(palisade_config_reload_errors_total[5m]))', 'reloads refused (5m)'),
          q('palisade_process_resident_memory_bytes', '{{pod}}'),
        ],
      },
    ],
  },
];

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** The dashboard object. */
export function dashboard() {
  /** @type {unknown[]} */
  const panels = [];
  let id = 1;
  let y = 0;
  for (const { row, panels: rowPanels } of ROWS) {
    panels.push({
      type: 'row',
      title: row,
      id: id++,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    const width = rowPanels.length >= 4 ? 6 : 8;
    rowPanels.forEach((panel, i) => {
      panels.push({
        type: panel.type ?? 'timeseries',
        title: panel.title,
        description: panel.description,
        id: id++,
        datasource: DATASOURCE,
        gridPos: { h: 8, w: width, x: (i * width) % 24, y: y + Math.floor((i * width) / 24) * 8 },
        fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom' } },
        targets: panel.queries.map((query, j) => ({
          refId: String.fromCharCode(65 + j),
          datasource: DATASOURCE,
          expr: query.expr,
          legendFormat: query.legend,
        })),
      });
    });
    y += Math.ceil((rowPanels.length * width) / 24) * 8;
  }
  return {
    title: 'Palisade',
    uid: 'palisade-overview',
    description:
      'Traffic, policies, Raft/leases/sagas and operator health of a Palisade installation.',
    tags: ['palisade', 'kubernetes', 'resilience'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-30m', to: 'now' },
    refresh: '10s',
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus' }],
    },
    panels,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(dashboard(), null, 2)}\n`);
}
