/**
 * CPU per global rate-limit decision (`RedisRateLimiter.take`) against a real redis-server, by
 * how many decisions are asked in the same event-loop turn (1, 4, 16): what batching them into
 * one script call saves; then one per turn on a rule big enough for token leases (decision 0005),
 * as a ratio to one per turn decided in Redis. Process CPU time per decision, after a warm-up
 * round.
 * Run: `npx tsc -b && node bench/dist/redis-batch-micro.js` (needs Debian's redis-server).
 * Writes bench/results/redis-batch-<date>.{json,md}.
 */
import os from 'node:os';
import { RedisRateLimiter, createRateLimitRedisClient } from '../../sidecar/dist/filters/index.js';
import { freePort, startRedis, stop, waitForPort } from './bench-processes.js';
import { loadAverage, writeResults } from './bench-results.js';

const decisions = 20_000;
const port = await freePort();
const redis = startRedis(os.cpus().length > 1 ? '1' : '0', port);
try {
  await waitForPort(port, redis);
  const client = createRateLimitRedisClient({ url: `redis://127.0.0.1:${port}` });
  await new Promise((resolve) => client.once('ready', resolve));
  const limiterFor = (rule: string, requestsPerMs: number) =>
    new RedisRateLimiter({
      redis: client,
      policy: 'bench/micro',
      rule,
      limit: { requests: requestsPerMs, periodMs: 1, burst: 0 },
      failureMode: 'open',
      timeoutMs: 5000,
    });
  // Capacity 999: under the lease threshold, every decision goes to Redis (never refused here).
  const exact = limiterFor('exact', 999);
  // Capacity 1,000,000: token leases.
  const leased = limiterFor('leased', 1_000_000);
  const cpuPerDecision = async (limiter: RedisRateLimiter, together: number): Promise<number> => {
    let cpuUs = 0;
    for (let round = 0; round < 2; round++) {
      const start = process.cpuUsage();
      for (let i = 0; i < decisions; i += together) {
        await Promise.all(Array.from({ length: together }, () => limiter.take('k')));
      }
      const used = process.cpuUsage(start);
      cpuUs = used.user + used.system; // the second round counts (the first warms up)
    }
    return cpuUs / decisions;
  };
  const rows: { decided: string; perTurn: number; cpuUsPerDecision: number }[] = [];
  const one = await cpuPerDecision(exact, 1);
  for (const together of [1, 4, 16]) {
    const perDecision = together === 1 ? one : await cpuPerDecision(exact, together);
    rows.push({ decided: 'in Redis', perTurn: together, cpuUsPerDecision: perDecision });
  }
  rows.push({
    decided: 'token leases',
    perTurn: 1,
    cpuUsPerDecision: await cpuPerDecision(leased, 1),
  });
  client.disconnect();
  const date = new Date().toISOString();
  const command = 'npx tsc -b && node bench/dist/redis-batch-micro.js';
  const markdown = [
    `# redis-batch-micro ${date}`,
    '',
    `Command: \`${command}\`. CPU of this process per global rate-limit decision, ${decisions} decisions (the second of two rounds), load average ${loadAverage()}.`,
    '',
    '| decided | decisions per event-loop turn | CPU µs per decision | × one per turn in Redis |',
    '|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.decided} | ${r.perTurn} | ${r.cpuUsPerDecision.toFixed(1)} | ${(r.cpuUsPerDecision / one).toFixed(2)}× |`,
    ),
    '',
  ].join('\n');
  console.log(markdown);
  console.log(
    `wrote ${writeResults('redis-batch', date, { date, command, decisions, rows }, markdown)}`,
  );
} finally {
  await stop(redis);
}
