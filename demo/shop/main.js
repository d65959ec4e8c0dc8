#!/usr/bin/env node
// @ts-check
/**
 * One entry point for the three shop services: `node main.js orders|inventory|payments`.
 * Listens on PORT (default 8080). Configuration is read here, once; the modules do no I/O at
 * import time.
 */
import { performance } from 'node:perf_hooks';
import { listen } from './src/http.js';
import { createInventoryServer } from './src/inventory.js';
import { LeaseKeeper, runLeaseKeeper } from './src/lease-keeper.js';
import { callSidecar, createOrdersServer, ordersConfigFromEnv } from './src/orders.js';
import { createPaymentsServer, switchFromEnv } from './src/payments.js';

const SERVICES = ['orders', 'inventory', 'payments'];
const service = process.argv[2] ?? process.env.SHOP_SERVICE ?? '';
if (!SERVICES.includes(service)) {
  console.error(`usage: node main.js ${SERVICES.join('|')}   (or SHOP_SERVICE=…)`);
  process.exit(2);
}
const port = Number(process.env.PORT ?? 8080);
const stop = new AbortController();
const log = (/** @type {string} */ line) =>
  console.log(`${new Date().toISOString()} ${service}: ${line}`);

let server;
if (service === 'inventory') server = createInventoryServer();
else if (service === 'payments')
  server = createPaymentsServer({ initialSwitch: switchFromEnv(process.env) });
else {
  const config = ordersConfigFromEnv(process.env);
  const keeper = new LeaseKeeper({
    holder: config.podName,
    ttlMs: 3000,
    now: () => performance.now(),
  });
  server = createOrdersServer({ config, leaseHolding: () => keeper.holding });
  if (process.env.LEASE_KEEPER !== 'off') {
    void runLeaseKeeper({
      keeper,
      call: (op, body) =>
        callSidecar(config, 'POST', `/v1/leases/${encodeURIComponent(config.lease)}/${op}`, body),
      intervalMs: 1000,
      signal: stop.signal,
      log,
    });
  }
}
await listen(server, service, port);

for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
  process.on(signal, () => {
    stop.abort();
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
