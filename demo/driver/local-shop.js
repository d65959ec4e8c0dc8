// @ts-check
/**
 * The shop as local processes, orders behind a real standalone `palisade-sidecar` (the same
 * binary the pods run): inventory and payments on loopback, orders' inbound traffic through the
 * sidecar's inbound proxy and its calls to the others through the sidecar's outbound proxy
 * (HTTP_PROXY). Used by the shop's black-box test; needs `sidecar/dist` built (`npx tsc -b`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOP_MAIN = join(repo, 'demo/shop/main.js');
export const SIDECAR_BIN = join(repo, 'sidecar/dist/bin/palisade-sidecar.js');

/** A free loopback port (bound then released; the caller binds it right after). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Spawns a process and resolves once a line of its stdout matches `ready` (rejects if it exits
 * first or `timeoutMs` passes). Output is kept for error messages.
 * @param {string[]} args node arguments
 * @param {Record<string, string>} env
 * @param {RegExp} ready
 * @param {number} [timeoutMs]
 */
function start(args, env, ready, timeoutMs = 20_000) {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolveChild, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`${args.join(' ')} not ready in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    /** @param {Error} error */
    const fail = (error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const onData = (/** @type {Buffer} */ chunk) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolveChild(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) =>
      fail(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)),
    );
  });
}

/**
 * @typedef {{ orders: string, ordersDirect: string, payments: string, inventory: string, admin: string, stop: () => Promise<void> }} LocalShop
 */

/** @typedef {Record<string, unknown>} Sections */

/** The Raft group of a local shop run with `raft`: one voter, as in Kubernetes but alone. */
export const LOCAL_RAFT = { group: 'shop/orders', podName: 'orders-local' };

/**
 * Starts inventory, payments, orders and orders' sidecar. `sidecarConfig` gets the listeners
 * and app filled in; its policies are the caller's. Orders addresses inventory as
 * http://localhost:<port> and payments as http://127.0.0.2:<port> (loopback too), so outbound
 * policies can tell the two apart by host.
 * With `raft`, the sidecar also runs a one-member Raft group (LOCAL_RAFT: its key file and data
 * dir made here, as the operator and webhook do in a cluster) and orders keeps the lease
 * `shop-leader` through it, as in the demo's pods.
 * @param {Sections | ((urls: { inventory: string, payments: string }) => Sections)} policies
 *   SidecarConfig sections (rateLimits, circuitBreakers, faults, sagas), or a function of the
 *   inventory and payments URLs giving them (a saga's steps call those)
 * @param {{ raft?: boolean }} [options]
 * @returns {Promise<LocalShop>}
 */
export async function startLocalShop(policies, options = {}) {
  const [inventoryPort, paymentsPort, ordersPort, admin, inbound, outbound, raft] =
    await Promise.all(Array.from({ length: 7 }, freePort));
  const dir = mkdtempSync(join(tmpdir(), 'palisade-demo-'));
  const configPath = join(dir, 'sidecar.json');
  const secretFile = join(dir, 'raft-key');
  if (options.raft) writeFileSync(secretFile, randomBytes(32), { mode: 0o400 });
  writeFileSync(
    configPath,
    JSON.stringify({
      version: 'demo-local',
      app: { host: '127.0.0.1', port: ordersPort },
      listeners: { admin, inbound, outbound, ...(options.raft ? { raft } : {}) },
      logLevel: 'info',
      ...(typeof policies === 'function'
        ? policies({
            inventory: `http://127.0.0.1:${inventoryPort}`,
            payments: `http://127.0.0.1:${paymentsPort}`,
          })
        : policies),
      ...(options.raft
        ? {
            raft: {
              group: LOCAL_RAFT.group,
              id: LOCAL_RAFT.podName,
              peers: [{ id: LOCAL_RAFT.podName, address: `127.0.0.1:${raft}`, voter: true }],
              secretFile,
              dataDir: join(dir, 'raft'),
            },
          }
        : {}),
    }),
  );
  /** @type {import('node:child_process').ChildProcess[]} */
  const children = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done(undefined);
            child.once('exit', done);
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const listening = /listening on/;
    children.push(
      await start([SHOP_MAIN, 'inventory'], { PORT: String(inventoryPort) }, listening),
    );
    children.push(await start([SHOP_MAIN, 'payments'], { PORT: String(paymentsPort) }, listening));
    children.push(
      await start(
        [SHOP_MAIN, 'orders'],
        {
          PORT: String(ordersPort),
          HTTP_PROXY: `http://127.0.0.1:${outbound}`,
          NO_PROXY: '127.0.0.1',
          INVENTORY_URL: `http://localhost:${inventoryPort}`,
          PAYMENTS_URL: `http://127.0.0.2:${paymentsPort}`,
          PALISADE_ADMIN_URL: `http://127.0.0.1:${admin}`,
          POD_NAME: LOCAL_RAFT.podName,
          LEASE_KEEPER: options.raft ? 'on' : 'off',
        },
        listening,
      ),
    );
    children.push(
      await start([SIDECAR_BIN, '--config', configPath], {}, /palisade-sidecar started/),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    orders: `http://127.0.0.1:${inbound}`,
    ordersDirect: `http://127.0.0.1:${ordersPort}`,
    payments: `http://127.0.0.1:${paymentsPort}`,
    inventory: `http://127.0.0.1:${inventoryPort}`,
    admin: `http://127.0.0.1:${admin}`,
    stop,
  };
}
