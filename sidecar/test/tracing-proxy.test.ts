/**
 * The observe filter in the real inbound proxy: a client → sidecar (InboundServer) → echo app
 * chain on real sockets, with a local OTLP/HTTP collector.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, request, type Server } from 'node:http';
import { Metrics } from '../src/metrics/index.js';
import {
  compileRoutes,
  InboundServer,
  OutboundServer,
  Pipeline,
  type Filter,
} from '../src/proxy/index.js';
import { createObserveFilter, createTracing, type Tracing } from '../src/tracing/index.js';
import { startEchoServer, type EchoReply } from './support/echo-server.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
  status?: { code?: number };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startCollector() {
  const spans: OtlpSpan[] = [];
  let exports = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      exports++;
      const parsed = JSON.parse(body) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of parsed.resourceSpans)
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    spans,
    exports: () => exports,
  };
}

async function startSidecar(tracing: Tracing, metrics: Metrics) {
  const echo = await startEchoServer();
  cleanups.push(() => echo.stop());
  const observe: Filter | undefined = createObserveFilter({
    direction: 'inbound',
    route: 'orders',
    tracing,
    metrics: metrics.forRoute('inbound', 'orders'),
  });
  const proxy = new InboundServer({
    host: '127.0.0.1',
    app: { host: '127.0.0.1', port: echo.port },
    pipeline: new Pipeline(
      compileRoutes('inbound', [{ name: 'orders', filters: { trace: observe } }]),
    ),
  });
  const port = await proxy.listen();
  cleanups.push(() => proxy.shutdown(1000));
  return { port };
}

function header(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

describe('observe filter in the inbound proxy', () => {
  it('makes the app a child of the sidecar span, exports it, and counts the request', async () => {
    const collector = await startCollector();
    const tracing = createTracing({
      serviceName: 'orders',
      otlpEndpoint: collector.endpoint,
      sampleRatio: 1,
      exportDelayMs: 60_000,
    });
    const metrics = new Metrics({ processMetrics: false });
    const { port } = await startSidecar(tracing, metrics);

    const response = await fetch(`http://127.0.0.1:${port}/api/orders?token=secret`, {
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, baggage: 'tenant=acme' },
    });
    const reply = (await response.json()) as EchoReply;
    expect(response.status).toBe(200);
    const failed = await fetch(`http://127.0.0.1:${port}/api/orders`, {
      headers: { 'x-echo-status': '503' },
    });
    await failed.arrayBuffer();
    expect(failed.status).toBe(503);
    await tracing.shutdown();

    const first = collector.spans.find((s) => s.traceId === TRACE_ID);
    expect(first).toMatchObject({ parentSpanId: CALLER_SPAN, kind: 2, name: 'GET orders' });
    expect(header(reply.rawHeaders, 'traceparent')).toBe(`00-${TRACE_ID}-${first?.spanId}-01`);
    expect(header(reply.rawHeaders, 'baggage')).toBe('tenant=acme');
    const attrs = Object.fromEntries(
      (first?.attributes ?? []).map((a) => [
        a.key,
        a.value.stringValue ?? Number(a.value.intValue),
      ]),
    );
    expect(attrs).toMatchObject({
      'palisade.route': 'orders',
      'palisade.direction': 'inbound',
      'url.path': '/api/orders',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
    });
    const second = collector.spans.find((s) => s.traceId !== TRACE_ID);
    expect(second?.status?.code).toBe(2); // STATUS_CODE_ERROR for the 503

    const text = await metrics.text();
    expect(text).toContain(
      'palisade_requests_total{direction="inbound",route="orders",code="200"} 1',
    );
    expect(text).toContain(
      'palisade_requests_total{direction="inbound",route="orders",code="503"} 1',
    );
    expect(text).toContain(
      'palisade_request_duration_seconds_count{direction="inbound",route="orders"} 2',
    );
  });

  it('with tracing off still counts requests and passes traceparent through untouched', async () => {
    const collector = await startCollector();
    const tracing = createTracing({
      serviceName: 'orders',
      otlpEndpoint: collector.endpoint,
      sampleRatio: 0,
    });
    const metrics = new Metrics({ processMetrics: false });
    const { port } = await startSidecar(tracing, metrics);
    const traceparent = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
    const reply = (await (
      await fetch(`http://127.0.0.1:${port}/x`, { headers: { traceparent } })
    ).json()) as EchoReply;
    expect(header(reply.rawHeaders, 'traceparent')).toBe(traceparent);
    expect(await metrics.text()).toContain(
      'palisade_requests_total{direction="inbound",route="orders",code="200"} 1',
    );
    await tracing.shutdown();
    expect(collector.exports()).toBe(0);
  });

  it('outbound: the destination becomes a child of a client span whose parent is the app span', async () => {
    const collector = await startCollector();
    const tracing = createTracing({
      serviceName: 'orders',
      otlpEndpoint: collector.endpoint,
      sampleRatio: 1,
      exportDelayMs: 60_000,
    });
    const echo = await startEchoServer();
    cleanups.push(() => echo.stop());
    const proxy = new OutboundServer({
      pipeline: new Pipeline(
        compileRoutes('outbound', [
          {
            name: 'payments',
            filters: {
              trace: createObserveFilter({ direction: 'outbound', route: 'payments', tracing }),
            },
          },
        ]),
      ),
    });
    const port = await proxy.listen();
    cleanups.push(() => proxy.shutdown(1000));
    // What an app with HTTP_PROXY set sends: the absolute URL as the request target.
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: `http://127.0.0.1:${echo.port}/charges`,
          headers: {
            host: `127.0.0.1:${echo.port}`,
            traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`,
          },
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(JSON.parse(body) as EchoReply));
        },
      );
      req.on('error', reject);
      req.end();
    });
    await tracing.shutdown();
    const span = collector.spans.find((s) => s.traceId === TRACE_ID);
    expect(span).toMatchObject({ kind: 3, parentSpanId: CALLER_SPAN, name: 'GET payments' });
    expect(header(reply.rawHeaders, 'traceparent')).toBe(`00-${TRACE_ID}-${span?.spanId}-01`);
  });

  it('is no filter at all when there is nothing to observe', () => {
    expect(
      createObserveFilter({
        direction: 'outbound',
        route: 'r',
        tracing: createTracing({ serviceName: 's', sampleRatio: 0 }),
      }),
    ).toBeUndefined();
  });
});
