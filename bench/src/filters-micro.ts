/**
 * Micro-benchmark of the filters' per-request decisions (no I/O): CPU ns per decision (process
 * CPU time, so a busy host inflates it less than wall time would), median of 5 runs after a
 * warm-up. Run: `npx tsc -b && node bench/dist/filters-micro.js`.
 * The issue's budget for a local rate-limit or breaker decision is 0.1 ms = 100,000 ns.
 */
import {
  CircuitBreaker,
  FaultInjector,
  TokenBucketLimiter,
  compileOutcomeClassifier,
  compileRateLimitHeaders,
  compileRouteMatch,
} from '../../sidecar/dist/filters/index.js';
import { SeededRandom } from '../../sidecar/dist/core/random.js';

const ITERATIONS = 2_000_000;
/** Keeps results observable so the JIT cannot drop the work. */
let sink = 0;

function measure(name: string, body: (i: number) => void): void {
  for (let i = 0; i < 200_000; i++) body(i); // warm-up: let the JIT optimise
  const runs: number[] = [];
  for (let run = 0; run < 5; run++) {
    const start = process.cpuUsage();
    for (let i = 0; i < ITERATIONS; i++) body(i);
    const used = process.cpuUsage(start);
    runs.push(((used.user + used.system) * 1000) / ITERATIONS);
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(58)} ${(runs[2] ?? 0).toFixed(1).padStart(7)} ns/decision`);
}

measure('baseline: loop + one call, no work (the harness itself)', (i) => {
  sink += i & 1;
});

const keys = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);

const hot = new TokenBucketLimiter({ requests: 1_000_000, periodMs: 1000, burst: 0 });
measure('token bucket: one hot key', (i) => {
  sink += hot.take('global', i * 0.001).remaining;
});

const warm = new TokenBucketLimiter({ requests: 100, periodMs: 1000, burst: 20, maxKeys: 10_000 });
measure('token bucket: 10,000 keys round-robin (LRU touch)', (i) => {
  sink += warm.take(keys[i % 10_000] as string, i * 0.001).remaining;
});

const flooded = new TokenBucketLimiter({
  requests: 100,
  periodMs: 1000,
  burst: 20,
  maxKeys: 10_000,
});
measure('token bucket: 100,000 keys over maxKeys 10,000 (evicting)', (i) => {
  sink += flooded.take(keys[i % 100_000] as string, i * 0.001).remaining;
});

const breaker = new CircuitBreaker({
  consecutiveFailures: 5,
  failureRatio: 0.5,
  minimumRequests: 20,
  windowMs: 10_000,
  openDurationMs: 30_000,
  halfOpen: { maxRequests: 3, successesToClose: 3 },
});
const classify = compileOutcomeClassifier({ statuses: ['5xx'] });
measure('breaker: tryAcquire + classify + onResult (closed)', (i) => {
  const now = i * 0.01;
  const permit = breaker.tryAcquire(now);
  if (!permit.open) breaker.onResult(permit, classify.status(i % 50 === 0 ? 503 : 200), now);
});

const matcher = compileRouteMatch({
  pathPrefix: '/api/orders',
  methods: ['POST'],
  headers: { 'x-tenant': 'acme' },
});
const rawHeaders = [
  'Host',
  'shop.local',
  'User-Agent',
  'bench',
  'Accept',
  '*/*',
  'X-Tenant',
  'acme',
];
measure('route match: prefix + method + header (4 raw headers)', () => {
  if (matcher('POST', '/api/orders/42?x=1', rawHeaders)) sink++;
});

const faults = new FaultInjector(
  [
    { type: 'latency', delayMs: 300, jitterMs: 50, percentage: 1 },
    { type: 'abort', httpStatus: 503, percentage: 1 },
  ],
  new SeededRandom(1),
);
measure('fault injector: two faults at 1%', () => {
  sink += faults.decide().delayMs;
});

const headers = compileRateLimitHeaders({
  name: 'per-user-orders',
  requests: 100,
  periodMs: 60_000,
});
const decision = { allowed: true, remaining: 42, resetAfterMs: 9_001, retryAfterMs: 0 };
measure('rate-limit headers: RateLimit value', () => {
  sink += headers.rateLimit(decision).length;
});

console.log(`(sink ${sink > 0 ? 'ok' : 'empty'})`);
