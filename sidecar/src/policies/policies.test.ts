/**
 * The policy adapters and the route compiler with a manual clock and fake handlers: what the
 * black-box tests cannot pin down exactly (which error counts how, what survives a reload).
 */
import { describe, expect, it } from '@jest/globals';
import { resolveConfig } from '../config/defaults.js';
import { ManualClock } from '../core/clock.js';
import { SeededRandom } from '../core/random.js';
import {
  CircuitBreaker,
  RetryPolicy,
  compileOutcomeClassifier,
  compileRateLimitHeaders,
  compileRouteMatch,
} from '../filters/index.js';
import { compileRateLimitKey } from '../filters/rate-limit-key.js';
import { CounterCell, Metrics } from '../metrics/index.js';
import {
  ClientAborted,
  PolicyRefusal,
  ProxyRequest,
  UpstreamTimeout,
  UpstreamUnavailable,
  localResponse,
  type Handler,
  type IncomingRequest,
  type ProxyResponse,
  type Upstream,
} from '../proxy/index.js';
import { createTracing } from '../tracing/index.js';
import { createCircuitBreakerFilter } from './circuit-breaker-filter.js';
import { RouteCompiler, authorityMatcher, compose } from './compile-routes.js';
import { createRateLimitFilter, type CompiledRateLimitRule } from './rate-limit-filter.js';
import { RedisClients } from './redis-clients.js';
import { createRetryFilter } from './retry-filter.js';

function request(
  options: { method?: string; path?: string; authority?: string; headers?: string[] } = {},
): ProxyRequest {
  return new ProxyRequest(
    'outbound',
    options.method ?? 'GET',
    options.path ?? '/',
    options.authority ?? 'example.test',
    options.headers ?? [],
    0,
    '10.0.0.1',
    0,
    {} as IncomingRequest,
    {} as Upstream,
    1024,
  );
}

const ok: Handler = () => Promise.resolve(localResponse(200));

describe('authorityMatcher', () => {
  it('matches the host with or without a port, case-insensitively, and nothing longer', () => {
    const match = authorityMatcher('payments.shop.svc');
    expect(match(request({ authority: 'payments.shop.svc' }))).toBe(true);
    expect(match(request({ authority: 'payments.shop.svc:8080' }))).toBe(true);
    expect(match(request({ authority: 'Payments.Shop.SVC:80' }))).toBe(true);
    expect(match(request({ authority: 'payments.shop.svc.evil' }))).toBe(false);
    expect(match(request({ authority: 'payments.shop' }))).toBe(false);
  });
});

describe('compose', () => {
  it('runs filters first-listed outermost', async () => {
    const order: string[] = [];
    const tag =
      (name: string) =>
      (next: Handler): Handler =>
      (req) => {
        order.push(name);
        return next(req);
      };
    await compose([tag('a'), tag('b')])!(ok)(request());
    expect(order).toEqual(['a', 'b']);
    expect(compose([])).toBeUndefined();
  });
});

describe('rate-limit filter', () => {
  function rule(
    take: CompiledRateLimitRule['take'],
    refused = new CounterCell(),
  ): CompiledRateLimitRule {
    return {
      policy: 'shop/p',
      name: 'r',
      matches: compileRouteMatch({ pathPrefix: '/api' }),
      key: compileRateLimitKey({ type: 'header', name: 'x-user' }),
      take,
      headers: compileRateLimitHeaders({ name: 'r', requests: 10, periodMs: 60_000 }),
      refused,
    };
  }

  it('refuses with 429 and the three headers, counting the refusal; skips non-matching requests', async () => {
    const refused = new CounterCell();
    const keys: string[] = [];
    const filter = createRateLimitFilter({
      clock: new ManualClock(),
      rules: [
        rule((key) => {
          keys.push(key);
          return { allowed: false, remaining: 0, resetAfterMs: 6000, retryAfterMs: 2500 };
        }, refused),
      ],
    });
    const handler = filter(ok);
    const error = await handler(request({ path: '/api/x', headers: ['X-User', 'alice'] })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PolicyRefusal);
    const refusal = error as PolicyRefusal;
    expect(refusal.statusCode).toBe(429);
    expect(refusal.headers).toEqual([
      'retry-after',
      '3',
      'ratelimit-policy',
      '"r";q=10;w=60',
      'ratelimit',
      '"r";r=0;t=6',
    ]);
    expect(keys).toEqual(['alice']);
    expect(refused.value).toBe(1);
    expect((await handler(request({ path: '/other' }))).statusCode).toBe(200);
  });

  it('waits for a global decision and then runs the later rules', async () => {
    const seen: string[] = [];
    const filter = createRateLimitFilter({
      clock: new ManualClock(),
      rules: [
        rule(() => {
          seen.push('global');
          return Promise.resolve({ allowed: true, remaining: 5, resetAfterMs: 0, retryAfterMs: 0 });
        }),
        rule(() => {
          seen.push('local');
          return { allowed: true, remaining: 5, resetAfterMs: 0, retryAfterMs: 0 };
        }),
      ],
    });
    const traced = request({ path: '/api' });
    traced.spanAttributes = {};
    const answer = await filter(ok)(traced);
    expect(answer.statusCode).toBe(200);
    expect(seen).toEqual(['global', 'local']);
    // The admitted answer advertises both rules; the span records the last decision.
    expect(answer.headers).toEqual([
      'ratelimit-policy',
      '"r";q=10;w=60',
      'ratelimit',
      '"r";r=5;t=0',
      'ratelimit-policy',
      '"r";q=10;w=60',
      'ratelimit',
      '"r";r=5;t=0',
    ]);
    expect(traced.spanAttributes).toMatchObject({ 'palisade.rate_limit.decision': 'allowed' });
  });
});

describe('circuit-breaker filter', () => {
  const clock = new ManualClock();
  const classifier = compileOutcomeClassifier({ statuses: ['5xx'] });

  it('counts timeouts and connection errors, not clients going away, and fails fast when open', async () => {
    const breaker = new CircuitBreaker({ consecutiveFailures: 2, openDurationMs: 1000 });
    const filter = createCircuitBreakerFilter({ breaker, classifier, clock });
    const failWith =
      (error: Error): Handler =>
      () =>
        Promise.reject(error);
    for (let i = 0; i < 5; i++) {
      await filter(failWith(new ClientAborted('gone')))(request()).catch(() => undefined);
    }
    expect(breaker.currentState(clock.now())).toBe('closed');
    await filter(failWith(new UpstreamTimeout('slow')))(request()).catch(() => undefined);
    await filter(failWith(new UpstreamUnavailable('refused')))(request()).catch(() => undefined);
    expect(breaker.currentState(clock.now())).toBe('open');
    const error = (await filter(ok)(request()).catch((e: unknown) => e)) as PolicyRefusal;
    expect(error.statusCode).toBe(503);
    expect(error.headers).toEqual(['x-palisade-circuit', 'open', 'retry-after', '1']);
  });
});

describe('retry filter', () => {
  it('retries an idempotent call after its attempt deadline aborted it, not a client abort', async () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy(
      { maxAttempts: 3, baseDelayMs: 0, budget: { minRetriesPerSecond: 100 } },
      new SeededRandom(1),
    );
    const retried = new CounterCell();
    const filter = createRetryFilter({ policy, clock, retried });
    let attempts = 0;
    const timesOutOnce: Handler = (req) => {
      attempts++;
      if (attempts === 1) {
        const reason = new UpstreamTimeout('deadline');
        req.abort(reason);
        return Promise.reject(reason);
      }
      if (req.abortReason !== null) return Promise.reject(req.abortReason);
      return Promise.resolve(localResponse(200));
    };
    const traced = request();
    traced.spanAttributes = {};
    expect((await filter(timesOutOnce)(traced)).statusCode).toBe(200);
    expect(attempts).toBe(2);
    expect(retried.value).toBe(1);
    expect(traced.spanAttributes).toEqual({ 'palisade.retry.attempts': 1 });

    attempts = 0;
    const clientGone: Handler = (req) => {
      attempts++;
      const reason = new ClientAborted('gone');
      req.abort(reason);
      return Promise.reject(reason);
    };
    await expect(filter(clientGone)(request())).rejects.toBeInstanceOf(ClientAborted);
    expect(attempts).toBe(1);

    attempts = 0;
    const failing: Handler = () => {
      attempts++;
      return Promise.resolve<ProxyResponse>(localResponse(503));
    };
    expect((await filter(failing)(request({ method: 'POST' }))).statusCode).toBe(503);
    expect(attempts).toBe(1);
  });
});

describe('RouteCompiler', () => {
  const base = {
    version: '1',
    app: { host: '127.0.0.1', port: 8080 },
    circuitBreakers: [
      {
        policy: 'shop/payments',
        target: { direction: 'outbound' as const, host: 'payments.shop.svc' },
        trip: { consecutiveFailures: 1 },
        openDuration: '30s',
      },
    ],
  };

  it('carries a breaker over an unrelated change, replaces it when its settings change, and names routes by host', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const compiler = new RouteCompiler({
      clock: new ManualClock(),
      random: new SeededRandom(1),
      metrics,
      redis: new RedisClients(),
    });
    const tracing = createTracing({ serviceName: 'test', sampleRatio: 0 });
    const first = compiler.compile(resolveConfig(base), tracing);
    compiler.commit(first);
    expect(first.routeNames.outbound).toEqual(['payments.shop.svc', 'default']);
    const [firstBreaker] = [...first.breakers.values()];

    const second = compiler.compile(
      resolveConfig({ ...base, version: '2', retries: { attempts: 2, backoff: '10ms' } }),
      tracing,
    );
    expect([...second.breakers.values()][0]).toBe(firstBreaker);
    compiler.commit(second);

    const changed = compiler.compile(
      resolveConfig({
        ...base,
        version: '3',
        circuitBreakers: [{ ...base.circuitBreakers[0]!, openDuration: '10s' }],
      }),
      tracing,
    );
    expect([...changed.breakers.values()][0]).not.toBe(firstBreaker);
    expect(await metrics.text()).toContain(
      'palisade_circuit_breaker_state{breaker="shop/payments",target="payments.shop.svc"} 0',
    );
  });

  it('refuses a global rule without Redis', () => {
    const compiler = new RouteCompiler({
      clock: new ManualClock(),
      random: new SeededRandom(1),
      metrics: new Metrics({ processMetrics: false }),
      redis: new RedisClients(),
    });
    const config = resolveConfig({
      ...base,
      rateLimits: [
        {
          policy: 'shop/limits',
          name: 'all',
          limit: { requests: 1, period: '1s' },
          key: { type: 'global' },
          scope: 'global',
        },
      ],
    });
    expect(() =>
      compiler.compile(config, createTracing({ serviceName: 'test', sampleRatio: 0 })),
    ).toThrow(/no redis is configured/);
  });
});
