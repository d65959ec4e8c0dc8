/**
 * Tracing against a real OTLP/HTTP "collector" (a local HTTP server on port 0): a minimal
 * proxy hop built from the tracing helpers forwards to a real upstream, and we check what the
 * upstream received and what the collector was sent.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import {
  createTracing,
  NOOP_SPAN,
  PALISADE_SPAN_ATTRIBUTES,
  tracesUrl,
  type Tracing,
} from '../src/tracing/index.js';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
  status?: { code?: number };
}
interface OtlpRequest {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

/** Receives OTLP/HTTP JSON exports. */
async function startCollector() {
  const requests: { path: string; contentType: string | undefined; body: OtlpRequest }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(body) as OtlpRequest,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await listen(server);
  const spans = () =>
    requests.flatMap((r) =>
      r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)),
    );
  return { endpoint: `http://127.0.0.1:${port}`, requests, spans };
}

/** Answers 200 and records the headers it got. */
async function startUpstream() {
  const received: IncomingHttpHeaders[] = [];
  const port = await listen(
    createServer((req, res) => {
      received.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    }),
  );
  return { port, received };
}

/**
 * One proxy hop as the sidecar does it: a server span for the incoming request, a client span
 * for the call upstream, trace headers injected into the upstream request's flat header list.
 */
async function startHop(tracing: Tracing, upstreamPort: number): Promise<number> {
  const server = createServer((req, res) => {
    const server = tracing.startServerSpan(
      req.rawHeaders,
      tracing.enabled
        ? {
            [PALISADE_SPAN_ATTRIBUTES.route]: 'orders',
            [PALISADE_SPAN_ATTRIBUTES.direction]: 'inbound',
          }
        : undefined,
    );
    const client = tracing.startClientSpan(
      server,
      tracing.enabled ? { [PALISADE_SPAN_ATTRIBUTES.rateLimit]: 'allowed' } : undefined,
    );
    const headers: string[] = ['host', `127.0.0.1:${upstreamPort}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] as string;
      if (!/^(host|connection)$/i.test(name)) headers.push(name, req.rawHeaders[i + 1] as string);
    }
    tracing.inject(client, headers);
    const upstream = request(
      { host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers },
      (upstreamRes) => {
        upstreamRes.resume();
        upstreamRes.on('end', () => {
          tracing.finishSpan(client, upstreamRes.statusCode ?? 0);
          tracing.finishSpan(server, upstreamRes.statusCode ?? 0);
          res.writeHead(upstreamRes.statusCode ?? 502).end('done');
        });
      },
    );
    upstream.end();
  });
  return listen(server);
}

async function get(port: number, headers: Record<string, string>): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/api/orders`, { headers });
  await response.text();
  return response.status;
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

function attribute(span: OtlpSpan | undefined, key: string): unknown {
  const value = span?.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : undefined);
}

describe('tracing', () => {
  it('exports server and client spans with the right parents, ids and attributes', async () => {
    const collector = await startCollector();
    const upstream = await startUpstream();
    const tracing = createTracing({
      serviceName: 'checkout',
      otlpEndpoint: collector.endpoint,
      sampleRatio: 1,
      exportDelayMs: 60_000,
    });
    expect(tracing.enabled).toBe(true);
    const hop = await startHop(tracing, upstream.port);

    const status = await get(hop, {
      traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      tracestate: 'vendor=abc',
      baggage: 'tenant=acme',
    });
    expect(status).toBe(200);
    await tracing.shutdown(); // flushes the batch: the exporter waits for the collector's answer

    expect(collector.requests.map((r) => [r.path, r.contentType])).toEqual([
      ['/v1/traces', 'application/json'],
    ]);
    const spans = collector.spans();
    expect(spans).toHaveLength(2);
    const server = spans.find((s) => s.kind === 2); // SPAN_KIND_SERVER
    const client = spans.find((s) => s.kind === 3); // SPAN_KIND_CLIENT
    expect(server).toMatchObject({
      traceId: TRACE_ID,
      parentSpanId: PARENT_ID,
      name: 'palisade inbound',
      traceState: 'vendor=abc',
    });
    expect(client).toMatchObject({
      traceId: TRACE_ID,
      parentSpanId: server?.spanId,
      name: 'palisade outbound',
    });
    expect(attribute(server, 'palisade.route')).toBe('orders');
    expect(attribute(server, 'http.response.status_code')).toBe(200);
    expect(attribute(client, 'palisade.rate_limit.decision')).toBe('allowed');
    const resource = collector.requests[0]?.body.resourceSpans[0]?.resource.attributes ?? [];
    expect(resource.find((a) => a.key === 'service.name')?.value.stringValue).toBe('checkout');

    // The upstream's parent is our client span; tracestate and baggage travel on.
    expect(upstream.received[0]?.traceparent).toBe(`00-${TRACE_ID}-${client?.spanId}-01`);
    expect(upstream.received[0]?.tracestate).toBe('vendor=abc');
    expect(upstream.received[0]?.baggage).toBe('tenant=acme');
  });

  it('starts a new sampled trace when the request has none', async () => {
    const collector = await startCollector();
    const upstream = await startUpstream();
    const tracing = createTracing({
      serviceName: 'checkout',
      otlpEndpoint: `${collector.endpoint}/`,
      sampleRatio: 1,
      exportDelayMs: 60_000,
    });
    const hop = await startHop(tracing, upstream.port);
    await get(hop, {});
    await tracing.shutdown();
    const server = collector.spans().find((s) => s.kind === 2);
    expect(server?.parentSpanId ?? '').toBe('');
    expect(upstream.received[0]?.traceparent).toMatch(
      new RegExp(`^00-${server?.traceId}-[0-9a-f]{16}-01$`),
    );
  });

  it("honours the caller's decision not to sample (parent-based)", async () => {
    const collector = await startCollector();
    const upstream = await startUpstream();
    const tracing = createTracing({
      serviceName: 'checkout',
      otlpEndpoint: collector.endpoint,
      sampleRatio: 1,
    });
    const hop = await startHop(tracing, upstream.port);
    await get(hop, { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` });
    await tracing.shutdown();
    expect(collector.spans()).toEqual([]);
    expect(upstream.received[0]?.traceparent).toMatch(
      new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`),
    );
  });

  it('with sampleRatio 0 exports nothing, creates no spans, and still propagates traceparent', async () => {
    const collector = await startCollector();
    const upstream = await startUpstream();
    const tracing = createTracing({
      serviceName: 'checkout',
      otlpEndpoint: collector.endpoint,
      sampleRatio: 0,
    });
    expect(tracing.enabled).toBe(false);
    expect(tracing.startServerSpan([])).toBe(NOOP_SPAN);
    const hop = await startHop(tracing, upstream.port);
    const traceparent = `00-${TRACE_ID}-${PARENT_ID}-01`;
    expect(await get(hop, { traceparent })).toBe(200);
    await tracing.shutdown();
    expect(upstream.received[0]?.traceparent).toBe(traceparent);
    expect(collector.requests).toEqual([]);
  });

  it('is off without an endpoint', () => {
    expect(createTracing({ serviceName: 's', sampleRatio: 1 }).enabled).toBe(false);
  });

  it('builds the traces URL from a base endpoint', () => {
    expect(tracesUrl('http://otel-collector:4318')).toBe('http://otel-collector:4318/v1/traces');
    expect(tracesUrl('http://c:4318/v1/traces')).toBe('http://c:4318/v1/traces');
  });
});
