// Runs the real `palisade-operator` command (operator/dist/bin/palisade-operator.js, built by
// `npx tsc -b`) as a child process for e2e tests, and reads its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The built command. */
export const OPERATOR_BIN = join(
  import.meta.dirname,
  '..',
  '..',
  'dist',
  'bin',
  'palisade-operator.js',
);

/** One pino log line. */
export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [field: string]: unknown;
}

/** A running operator process. */
export class OperatorProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
  private stderr = '';
  private waiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    args: readonly string[],
  ) {
    if (!existsSync(OPERATOR_BIN))
      throw new Error(`${OPERATOR_BIN} is missing: run 'npx tsc -b' before the e2e tests`);
    this.child = spawn(process.execPath, [OPERATOR_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.logs.push({ level: 50, time: Date.now(), msg: `unparsable log line: ${line}` });
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        for (const w of this.waiters.splice(0)) w();
        resolve({ code, signal, atMs: Date.now() });
      }),
    );
  }

  /**
   * Waits for a log line matching `predicate` (already seen ones count). The default bound covers
   * a cold start on the shared 2-core host (loading client-node alone takes ~1.5 CPU-s, and the
   * e2e runs beside the API server, etcd and the node): 20 s was exceeded there.
   */
  async waitForLog(
    what: string,
    predicate: (line: LogLine) => boolean,
    timeoutMs = 60_000,
  ): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(predicate);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`${this.name} exited before logging ${what}: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${this.name}: no log line ${what} in ${timeoutMs} ms: ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The port the health/metrics server bound. */
  async healthPort(): Promise<number> {
    const line = await this.waitForLog(
      'health serving',
      (l) => l.msg === 'health and metrics serving',
    );
    return line['port'] as number;
  }

  /** The port the webhook bound. */
  async webhookPort(): Promise<number> {
    const line = await this.waitForLog('webhook serving', (l) => l.msg === 'webhook serving');
    return line['port'] as number;
  }

  /** GET on the health server: status and body. */
  async get(path: string): Promise<{ status: number; body: string }> {
    const response = await fetch(`http://127.0.0.1:${await this.healthPort()}${path}`);
    return { status: response.status, body: await response.text() };
  }

  /** Sum of a Prometheus metric's samples whose line contains `filter`. */
  async metric(name: string, filter = ''): Promise<number> {
    const { body } = await this.get('/metrics');
    return body
      .split('\n')
      .filter((l) => l.startsWith(name) && l.includes(filter))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Last log lines and stderr, for failure messages. */
  describe(): string {
    return `${this.logs
      .slice(-8)
      .map((l) => l.msg)
      .join(' | ')} stderr: ${this.stderr.slice(-500)}`;
  }
}

/**
 * An operator for one test namespace: no leader election, no webhook, watching and keeping its
 * state in `namespace`, health on a free loopback port; `extraArgs` add to that.
 */
export function startNamespacedOperator(
  name: string,
  kubeconfig: string,
  namespace: string,
  extraArgs: readonly string[] = [],
): OperatorProcess {
  return new OperatorProcess(name, [
    '--kubeconfig',
    kubeconfig,
    '--leader-elect=false',
    '--webhook=false',
    '--watch-namespace',
    namespace,
    '--operator-namespace',
    namespace,
    '--health-bind',
    '127.0.0.1:0',
    ...extraArgs,
  ]);
}
