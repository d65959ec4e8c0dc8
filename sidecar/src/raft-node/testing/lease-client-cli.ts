/**
 * `node lease-client-cli.js <client> <adminPort> <durationMs> <ttlMs> <name>...`: runs
 * {@link runLeaseClient} (inside a network namespace, next to its sidecar) and prints the history
 * as one JSON array on stdout.
 */
import { runLeaseClient } from './lease-client.js';

const [client, port, duration, ttl, ...names] = process.argv.slice(2);
if (client === undefined || names.length === 0) {
  process.stderr.write(
    'usage: lease-client-cli <client> <adminPort> <durationMs> <ttlMs> <name>...\n',
  );
  process.exit(2);
}
const history = await runLeaseClient({
  client,
  adminPort: Number(port),
  durationMs: Number(duration),
  ttlMs: Number(ttl),
  names,
});
process.stdout.write(`${JSON.stringify(history)}\n`);
