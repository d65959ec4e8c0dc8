/**
 * CPU per global rate-limit decision (`RedisRateLimiter.take`) against a real redis-server, by
 * how many decisions are asked in the same event-loop turn (1, 4, 16): what batching them into
 * one script call saves. Process CPU time per decision, after a warm-up round.
 * Run: `npx tsc -b && node bench/dist/redis-batch-micro.js` (needs Debian's redis-server).
 */
import os from 'node:os';
import { RedisRateLimiter, createRateLimitRedisClient } from '../../sidecar/dist/filters/index.js';
import { freePort, startRedis, stop, waitForPort } from './bench-processes.js';

const decisions = 20_000;
const port = await freePort();
const redis = startRedis(os.cpus().length > 1 ? '1' : '0', port);
try {
  await waitForPort(port, redis);
  const client = createRateLimitRedisClient({ url: `redis://127.0.0.1:${port}` });
  await new Promise((resolve) => client.once('ready', resolve));
  const limiter = new RedisRateLimiter({
    redis: client,
    policy: 'bench/micro',
    rule: 'r',
    limit: { requests: 1_000_000_000, periodMs: 1000, burst: 0 },
    failureMode: 'open',
    timeoutMs: 5000,
  });
  for (const together of [1, 4, 16]) {
    let cpuUs = 0;
    for (let round = 0; round < 2; round++) {
      const start = process.cpuUsage();
      for (let i = 0; i < decisions; i += together) {
        await Promise.all(Array.from({ length: together }, () => limiter.take('k')));
      }
      const used = process.cpuUsage(start);
      cpuUs = used.user + used.system; // the second round counts (the first warms up)
    }
    console.log(
      `${String(together).padStart(2)} decision(s) per turn: ${(cpuUs / decisions).toFixed(1)} µs CPU per decision`,
    );
  }
  client.disconnect();
} finally {
  await stop(redis);
}
