/**
 * Tracing from the real sidecar process to a local OTLP/HTTP collector: server spans inbound,
 * client spans outbound, `traceparent` propagated to the app, refusals marked with their code,
 * and a reload that turns tracing off.
 */
import { describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EchoReply } from './support/echo-server.js';
import { send, waitFor, type TestConfig } from './support/sidecar-process.js';
import { useSidecarHarness } from './support/sidecar-harness.js';

const { defer, echo, sidecar } = useSidecarHarness();

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
}

async function startCollector(): Promise<{ endpoint: string; spans: OtlpSpan[] }> {
  const spans: OtlpSpan[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of parsed.resourceSpans)
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

function attribute(span: OtlpSpan, key: string): string | number | undefined {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
}

function header(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

describe('tracing', () => {
  it('exports server and client spans, propagates traceparent, marks refusals; a reload turns it off', async () => {
    const app = await echo();
    const collector = await startCollector();
    const config = (version: string, tracing: boolean): TestConfig => ({
      version,
      app: { host: '127.0.0.1', port: app.port },
      ...(tracing ? { tracing: { otlpEndpoint: collector.endpoint, sampleRatio: 1 } } : {}),
      rateLimits: [
        {
          policy: 'shop/limits',
          name: 'one',
          match: { path: '/once' },
          limit: { requests: 1, period: '1m' },
          key: { type: 'global' },
        },
      ],
      circuitBreakers: [
        {
          policy: 'shop/app-breaker',
          target: { direction: 'inbound' },
          trip: { consecutiveFailures: 5 },
          openDuration: '30s',
        },
      ],
      faults: [
        {
          experiment: 'shop/slow-once',
          type: 'latency',
          delay: '1ms',
          percentage: 100,
          direction: 'inbound',
          match: { path: '/once' },
        },
      ],
    });
    const sc = await sidecar(config('traced', true));

    const parentTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const inbound = await send(sc.ports.inbound, {
      path: '/orders',
      headers: { traceparent: `00-${parentTrace}-00f067aa0ba902b7-01` },
    });
    const appSaw = header((JSON.parse(inbound.body) as EchoReply).rawHeaders, 'traceparent');
    expect(appSaw).toMatch(new RegExp(`^00-${parentTrace}-[0-9a-f]{16}-01$`));
    expect(appSaw).not.toContain('00f067aa0ba902b7'); // the app's parent is the sidecar's span
    expect((await send(sc.ports.inbound, { path: '/once' })).status).toBe(200);
    expect((await send(sc.ports.inbound, { path: '/once' })).status).toBe(429);
    const outbound = await send(sc.ports.outbound, {
      path: `http://127.0.0.1:${app.port}/payments`,
      headers: { host: `127.0.0.1:${app.port}` },
    });
    expect(outbound.status).toBe(200);

    await waitFor('4 spans at the collector', () => collector.spans.length >= 4, 10_000, 100);
    const server = collector.spans.find((s) => s.traceId === parentTrace);
    expect(server).toBeDefined();
    expect(server!.kind).toBe(2); // SERVER
    expect(server!.parentSpanId).toBe('00f067aa0ba902b7');
    expect(appSaw).toContain(server!.spanId);
    expect(attribute(server!, 'palisade.route')).toBe('default');
    const limited = collector.spans.find((s) => attribute(s, 'http.response.status_code') === 429);
    expect(limited && attribute(limited, 'error.type')).toBe('RATE_LIMITED');
    // Policy decisions are span attributes: the rate limit (admitted, then refused), the fault
    // and the breaker's state, each on the request it applied to.
    expect(limited && attribute(limited, 'palisade.rate_limit.decision')).toBe('limited');
    expect(limited && attribute(limited, 'palisade.rate_limit.rule')).toBe('shop/limits/one');
    const admittedOnce = collector.spans.find(
      (s) =>
        attribute(s, 'url.path') === '/once' && attribute(s, 'http.response.status_code') === 200,
    );
    expect(admittedOnce && attribute(admittedOnce, 'palisade.rate_limit.decision')).toBe('allowed');
    expect(admittedOnce && attribute(admittedOnce, 'palisade.fault.type')).toBe('latency');
    expect(admittedOnce && attribute(admittedOnce, 'palisade.fault.experiment')).toBe(
      'shop/slow-once',
    );
    expect(admittedOnce && attribute(admittedOnce, 'palisade.circuit_breaker.state')).toBe(
      'closed',
    );
    expect(attribute(server!, 'palisade.rate_limit.decision')).toBeUndefined(); // no rule matched
    const client = collector.spans.find((s) => s.kind === 3); // CLIENT
    expect(client && attribute(client, 'palisade.direction')).toBe('outbound');

    // Tracing off by reload: no span is started, so the caller's traceparent passes untouched
    // (with tracing on, the app would see the sidecar's span id as its parent).
    await sc.writeConfig(config('untraced', false));
    await waitFor(
      '/config to show untraced',
      async () => JSON.parse((await sc.admin('/config')).body).version === 'untraced',
    );
    const untouched = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const after = await send(sc.ports.inbound, {
      path: '/orders',
      headers: { traceparent: untouched },
    });
    expect(header((JSON.parse(after.body) as EchoReply).rawHeaders, 'traceparent')).toBe(untouched);
  });
});
