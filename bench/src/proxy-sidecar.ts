/**
 * The sidecar's inbound proxy as a standalone process for the benchmark (until the sidecar's own
 * `--config` entry point carries every filter, this is what `bench:proxy` pins to a core).
 *
 *   node bench/dist/proxy-sidecar.js --port 15006 --app-port 8080 [--filters none|passthrough]
 *                                    [--buffer-body-bytes 65536]
 *
 * `--filters passthrough` installs one do-nothing filter at each of the five inbound positions
 * (plus an `onFinish` observer), measuring what the chain itself costs. A row "every filter" is
 * added by mapping a new `--filters` value to real filter instances here (see
 * docs/decisions/0006-proxy-data-path.md).
 */
import {
  InboundServer,
  Pipeline,
  compileRoutes,
  type Filter,
  type InboundFilters,
} from '../../sidecar/dist/proxy/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

const passthrough: Filter = (next) => (req) => next(req);
const observing: Filter = (next) => (req) => {
  req.onFinish(() => undefined);
  return next(req);
};

function filtersFor(kind: string): InboundFilters {
  switch (kind) {
    case 'none':
      return {};
    case 'passthrough':
      return {
        trace: observing,
        rateLimit: passthrough,
        fault: passthrough,
        breaker: passthrough,
        timeout: passthrough,
      };
    default:
      throw new Error(`unknown --filters ${kind}`);
  }
}

const server = new InboundServer({
  host: '127.0.0.1',
  port: Number(arg('port', '15006')),
  app: { host: '127.0.0.1', port: Number(arg('app-port', '8080')) },
  upstream: { bufferBodyBytes: Number(arg('buffer-body-bytes', String(64 * 1024))) },
  pipeline: new Pipeline(
    compileRoutes('inbound', [{ name: 'bench', filters: filtersFor(arg('filters', 'none')) }]),
  ),
});
const port = await server.listen();
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => {
  void server.shutdown(2_000).then(() => process.exit(0));
});
