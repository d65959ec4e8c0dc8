/**
 * Micro-benchmark of what exporting a recorded span costs the sidecar: CPU µs per span (process
 * CPU time of this process; the collector runs in a child process), for spans shaped like the
 * sidecar's inbound spans (8 attributes, a status), exported in batches as the sidecar's
 * `BatchSpanProcessor` does (100 per batch: 10% of 1,000 req/s, exported every second; and 500).
 *
 * - baseline: the spans are created and ended, and the batch is dropped (no export);
 * - otlp: the OTLP/HTTP JSON exporter the sidecar uses (`@opentelemetry/exporter-trace-otlp-http`);
 * - hand-written: the same OTLP JSON built as one string per batch and POSTed on a keep-alive
 *   agent, the alternative a cheaper export path would be.
 *
 * Run: `npx tsc -b && node bench/dist/otlp-export-micro.js`; writes
 * bench/results/otlp-export-<date>.{json,md}. Decision 0019, round 6.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { loadAverage, writeResults } from './bench-results.js';

const BATCHES = 60;
const ROUNDS = 3;

/** The collector: a child process that accepts every POST (its CPU is not ours). */
function startCollector(): Promise<{ child: ChildProcess; url: string }> {
  const source = `
    const { createServer } = require('node:http');
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); });
    });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => process.send(server.address().port));`;
  const child = spawn(process.execPath, ['-e', source], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (port) =>
      resolve({ child, url: `http://127.0.0.1:${String(port)}/v1/traces` }),
    );
    child.once('exit', (code) => reject(new Error(`collector exited with ${code}`)));
  });
}

/** Spans as the sidecar records them, collected by a processor that keeps them for export. */
const ended: ReadableSpan[] = [];
const collecting: SpanProcessor = {
  onStart: () => undefined,
  onEnd: (span) => void ended.push(span),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const tracer = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'bench', 'k8s.pod.name': 'shop-1' }),
  spanProcessors: [collecting],
}).getTracer('palisade-sidecar');

function recordSpans(count: number): ReadableSpan[] {
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan('POST default', {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'POST',
        'url.path': '/orders',
        'server.address': '127.0.0.1:8080',
        'palisade.route': 'default',
        'palisade.direction': 'inbound',
      },
    });
    span.setAttributes({
      'palisade.rate_limit.decision': 'allowed',
      'palisade.rate_limit.rule': 'shop/limits/global',
      'palisade.circuit_breaker.state': 'closed',
    });
    span.setAttribute('http.response.status_code', 200);
    span.setStatus({ code: SpanStatusCode.UNSET });
    span.end();
  }
  return ended.splice(0);
}

// --- the hand-written alternative ----------------------------------------------------------

function anyValue(value: unknown): string {
  if (typeof value === 'string') return `{"stringValue":${JSON.stringify(value)}}`;
  if (typeof value === 'boolean') return `{"boolValue":${value}}`;
  if (typeof value === 'number') {
    return Number.isInteger(value) ? `{"intValue":"${value}"}` : `{"doubleValue":${value}}`;
  }
  return `{"stringValue":${JSON.stringify(String(value))}}`;
}

function attributesJson(attributes: Attributes): string {
  const parts: string[] = [];
  for (const key in attributes)
    parts.push(`{"key":${JSON.stringify(key)},"value":${anyValue(attributes[key])}}`);
  return `[${parts.join(',')}]`;
}

const nanos = (time: readonly [number, number]): string =>
  (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();

function spanJson(span: ReadableSpan): string {
  const context = span.spanContext();
  const parent = span.parentSpanContext?.spanId;
  return (
    `{"traceId":"${context.traceId}","spanId":"${context.spanId}"` +
    (parent === undefined ? '' : `,"parentSpanId":"${parent}"`) +
    `,"name":${JSON.stringify(span.name)},"kind":${span.kind + 1}` +
    `,"startTimeUnixNano":"${nanos(span.startTime)}","endTimeUnixNano":"${nanos(span.endTime)}"` +
    `,"attributes":${attributesJson(span.attributes)},"status":{"code":${span.status.code}}}`
  );
}

function handWritten(url: string): SpanExporter {
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  return {
    export(spans, done) {
      const resource = attributesJson((spans[0] as ReadableSpan).resource.attributes);
      const body =
        `{"resourceSpans":[{"resource":{"attributes":${resource}},"scopeSpans":[{"scope":` +
        `{"name":"palisade-sidecar"},"spans":[${spans.map(spanJson).join(',')}]}]}]}`;
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => done({ code: res.statusCode === 200 ? 0 : 1 }));
        },
      );
      req.on('error', () => done({ code: 1 }));
      req.end(body);
    },
    shutdown: () => {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

// --- the measurement -----------------------------------------------------------------------

const dropped: SpanExporter = {
  export: (_spans, done) => setImmediate(() => done({ code: 0 })),
  shutdown: () => Promise.resolve(),
};

/** CPU µs per span: spans recorded and exported `BATCHES` times in batches of `size`. */
async function cpuPerSpan(exporter: SpanExporter, size: number): Promise<number> {
  const exportBatch = (spans: ReadableSpan[]): Promise<void> =>
    new Promise((resolve, reject) =>
      exporter.export(spans, (result) =>
        result.code === 0 ? resolve() : reject(new Error('export failed')),
      ),
    );
  for (let i = 0; i < 5; i++) await exportBatch(recordSpans(size)); // warm-up
  const start = process.cpuUsage();
  for (let i = 0; i < BATCHES; i++) await exportBatch(recordSpans(size));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / (BATCHES * size);
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;

async function main(): Promise<void> {
  const collector = await startCollector();
  const exporters: [string, SpanExporter][] = [
    ['baseline (recorded, not exported)', dropped],
    ['otlp (the sidecar’s exporter)', new OTLPTraceExporter({ url: collector.url })],
    ['hand-written JSON + keep-alive POST', handWritten(collector.url)],
  ];
  const rows: { exporter: string; batch: number; usPerSpan: number; exportUsPerSpan: number }[] =
    [];
  try {
    for (const size of [100, 500]) {
      const runs = new Map<string, number[]>();
      // Interleaved rounds, so that a busy moment of the host does not land on one exporter.
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, exporter] of exporters) {
          const list = runs.get(name) ?? [];
          list.push(await cpuPerSpan(exporter, size));
          runs.set(name, list);
        }
      }
      const baseline = median(runs.get(exporters[0]?.[0] as string) ?? []);
      for (const [name] of exporters) {
        const usPerSpan = median(runs.get(name) ?? []);
        rows.push({
          exporter: name,
          batch: size,
          usPerSpan,
          exportUsPerSpan: usPerSpan - baseline,
        });
      }
    }
  } finally {
    for (const [, exporter] of exporters) await exporter.shutdown();
    collector.child.kill();
  }

  const date = new Date().toISOString();
  const command = 'npx tsc -b && node bench/dist/otlp-export-micro.js';
  const lines = [
    `# otlp-export-micro ${date}`,
    '',
    `Command: \`${command}\`. CPU of this process per span, median of ${ROUNDS} interleaved rounds of ${BATCHES} batches; load average ${loadAverage()}.`,
    '',
    '| exporter | batch | CPU µs per span | of which export | × baseline |',
    '|---|---|---|---|---|',
    ...rows.map((r) => {
      const baseline = rows.find((b) => b.batch === r.batch)?.usPerSpan ?? 1;
      return `| ${r.exporter} | ${r.batch} | ${r.usPerSpan.toFixed(1)} | ${r.exportUsPerSpan.toFixed(1)} | ${(r.usPerSpan / baseline).toFixed(1)}× |`;
    }),
    '',
  ];
  console.log(lines.join('\n'));
  writeResults(
    'otlp-export',
    date,
    { date, command, batches: BATCHES, rounds: ROUNDS, rows },
    lines.join('\n'),
  );
}

await main();
