/**
 * What the proxy benchmarks share (bench/src/proxy-bench.ts, bench/src/proxy-soak.ts): the nginx
 * upstream answering a fixed 1 KiB body, the every-filter SidecarConfig sections and an OTLP sink,
 * started together on the load core by `startBenchServices`.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { freePort, pinned, startRedis, stop, waitForPort } from './bench-processes.js';

/** What every row may use besides the upstream: the run's Redis and OTLP collector. */
export interface Services {
  readonly redisUrl: string;
  readonly otlpEndpoint: string;
}

const oneKiB = 'x'.repeat(1024);

/** nginx, one worker, answering every request with a fixed 1 KiB body. */
export function upstreamConfig(dir: string, port: number): string {
  return `worker_processes 1;
daemon off;
master_process off;
error_log ${dir}/upstream-error.log warn;
pid ${dir}/upstream.pid;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${dir}/u-body; proxy_temp_path ${dir}/u-proxy; fastcgi_temp_path ${dir}/u-fcgi;
  uwsgi_temp_path ${dir}/u-uwsgi; scgi_temp_path ${dir}/u-scgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / { return 200 "${oneKiB}"; }
  }
}
`;
}

/** The parts of the every-filter config that `BENCH_EVERY_FILTER_WITHOUT` can leave out. */
export const EVERY_FILTER_PARTS = [
  'local',
  'global',
  'breaker',
  'fault',
  'retries',
  'tracing',
] as const;
export type EveryFilterPart = (typeof EVERY_FILTER_PARTS)[number];

/** Whether `part` names one of `EVERY_FILTER_PARTS` (what the environment gives is checked). */
export function isEveryFilterPart(part: string): part is EveryFilterPart {
  return (EVERY_FILTER_PARTS as readonly string[]).includes(part);
}

/**
 * Every filter on, none of them refusing at the benchmark's load: a local and a global rate
 * limit far above it (the global one decided by Redis for every request), an inbound circuit
 * breaker with a request timeout, an abort fault at 0%, the retry policy, tracing at 10% to a
 * collector that accepts everything. `without` leaves parts out (what each costs: run the row
 * with and without it, BENCH_EVERY_FILTER_WITHOUT).
 */
export function everyFilter(services: Services, without: readonly EveryFilterPart[] = []): object {
  const config: Record<string, unknown> = everyFilterConfig(services);
  const keep = (part: string): boolean => !(without as readonly string[]).includes(part);
  const rateLimits = (config.rateLimits as { scope: string }[]).filter((rule) => keep(rule.scope));
  if (rateLimits.length > 0) config.rateLimits = rateLimits;
  else delete config.rateLimits;
  if (!keep('global')) delete config.redis;
  if (!keep('breaker')) delete config.circuitBreakers;
  if (!keep('fault')) delete config.faults;
  if (!keep('retries')) delete config.retries;
  if (!keep('tracing')) delete config.tracing;
  return config;
}

function everyFilterConfig(services: Services): Record<string, unknown> {
  const high = { requests: 1_000_000, period: '1s' };
  return {
    redis: { url: services.redisUrl, timeout: '50ms' },
    rateLimits: [
      {
        policy: 'bench/limits',
        name: 'local',
        match: { pathPrefix: '/' },
        limit: high,
        key: { type: 'remoteAddress' },
        scope: 'local',
      },
      {
        policy: 'bench/limits',
        name: 'global',
        match: { pathPrefix: '/' },
        limit: high,
        key: { type: 'global' },
        scope: 'global',
        failureMode: 'open',
      },
    ],
    circuitBreakers: [
      {
        policy: 'bench/app',
        target: { direction: 'inbound' },
        trip: { consecutiveFailures: 5 },
        requestTimeout: '2s',
        openDuration: '30s',
      },
    ],
    faults: [
      {
        experiment: 'bench/never',
        type: 'abort',
        httpStatus: 503,
        percentage: 0,
        direction: 'inbound',
      },
    ],
    retries: { attempts: 3, backoff: '25ms', budgetPercent: 20 },
    tracing: { otlpEndpoint: services.otlpEndpoint, sampleRatio: 0.1 },
  };
}

/** An OTLP/HTTP sink: accepts every export (the sidecar's export cost is what counts). */
export function startCollector(): Promise<{
  endpoint: string;
  close: () => void;
  exports: () => number;
}> {
  let exports = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        close: () => server.close(),
        exports: () => exports,
      });
    });
  });
}

/** The upstream and the services of a proxy benchmark, running. */
export interface BenchServices {
  readonly upstreamPort: number;
  readonly services: Services;
  /** Stops the upstream, Redis and the collector. */
  stop(): Promise<void>;
}

/**
 * Starts the nginx upstream (config and logs in `dir`), a redis-server and the OTLP sink, the
 * processes pinned to `loadCore` (they share it with the load generator), and waits until they
 * listen; stops them again if one does not.
 */
export async function startBenchServices(dir: string, loadCore: string): Promise<BenchServices> {
  const upstreamPort = await freePort();
  writeFileSync(path.join(dir, 'upstream.conf'), upstreamConfig(dir, upstreamPort));
  const upstream = pinned(loadCore, 'nginx', [
    '-e',
    `${dir}/upstream-stderr.log`,
    '-c',
    path.join(dir, 'upstream.conf'),
  ]);
  const redisPort = await freePort();
  const redis = startRedis(loadCore, redisPort);
  const collector = await startCollector();
  const stopAll = async (): Promise<void> => {
    await stop(upstream);
    await stop(redis);
    collector.close();
  };
  try {
    await waitForPort(upstreamPort, upstream);
    await waitForPort(redisPort, redis);
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    upstreamPort,
    services: { redisUrl: `redis://127.0.0.1:${redisPort}`, otlpEndpoint: collector.endpoint },
    stop: stopAll,
  };
}
