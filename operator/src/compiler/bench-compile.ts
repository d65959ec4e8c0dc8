/**
 * Compile benchmark: 10,000 pods × 500 policies (override with PODS / POLICIES). Not a jest
 * test — a script: `npx tsc -b && node operator/dist/compiler/bench-compile.js`.
 * Prints the time of each compile (first = cold) and the heap used by the input and output.
 */
import { compileSidecarConfigs } from './compile.js';
import { breaker, experiment, installation, pod, rateLimit, saga } from './fixtures.js';
import type { LabelSelector } from '@palisade/crds';
import type { ChaosInput, CompileInput, PodInfo } from './types.js';

const podCount = Number(process.env['PODS'] ?? 10_000);
const policyCount = Number(process.env['POLICIES'] ?? 500);
const namespaces = 10;
const workloads = 200; // 50 pods each at 10,000 pods

function buildInput(): CompileInput {
  const pods: PodInfo[] = [];
  for (let i = 0; i < podCount; i++) {
    const w = i % workloads;
    pods.push(
      pod(
        `w${w}-${i}`,
        { app: `w${w}`, tier: w % 2 === 0 ? 'front' : 'back', 'pod-template-hash': `h${w}` },
        {
          namespace: `ns-${w % namespaces}`,
          ready: i % 17 !== 0,
        },
      ),
    );
  }
  const rateLimits = [];
  const circuitBreakers = [];
  const chaos: ChaosInput[] = [];
  const sagas = [];
  for (let p = 0; p < policyCount; p++) {
    const w = p % workloads;
    const ns = `ns-${w % namespaces}`;
    const sel: LabelSelector =
      p % 5 === 0
        ? {
            matchExpressions: [
              {
                key: 'app',
                operator: 'In' as const,
                values: [`w${w}`, `w${(w + namespaces) % workloads}`],
              },
            ],
          }
        : p % 7 === 0
          ? {
              matchLabels: { tier: 'front' },
              matchExpressions: [{ key: 'app', operator: 'NotIn' as const, values: [`w${w}`] }],
            }
          : { matchLabels: { app: `w${w}` } };
    switch (p % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
        rateLimits.push({ ...rateLimit(`rl-${p}`, sel, 100 + p), namespace: ns });
        break;
      case 4:
      case 5:
      case 6:
        circuitBreakers.push({
          ...breaker(`cb-${p}`, sel, `svc-${p % 3}.${ns}.svc`, p),
          namespace: ns,
        });
        break;
      case 7: {
        const targets = pods
          .filter((x) => x.namespace === ns && x.labels['app'] === `w${w}`)
          .slice(0, 5)
          .map((x) => x.name);
        chaos.push({
          ...experiment(`chaos-${p}`, sel, { phase: 'Running', targets }),
          namespace: ns,
        });
        break;
      }
      default:
        sagas.push({ ...saga(`saga-${p}`, sel), namespace: ns });
    }
  }
  return { pods, policies: { rateLimits, circuitBreakers, chaos, sagas }, installation };
}

function heapMiB(): number {
  global.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** Runs `fn` `runs` times after one warm-up; wall and CPU (user+system) ms of each run. */
function measure(
  fn: () => unknown,
  runs = 5,
): { wallMs: number[]; cpuMs: number[]; medianWallMs: number; medianCpuMs: number } {
  fn();
  const wallMs: number[] = [];
  const cpuMs: number[] = [];
  for (let run = 0; run < runs; run++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    fn();
    wallMs.push(Math.round(performance.now() - start));
    const used = process.cpuUsage(cpu);
    cpuMs.push(Math.round((used.user + used.system) / 1000));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return { wallMs, cpuMs, medianWallMs: median(wallMs), medianCpuMs: median(cpuMs) };
}

const heapStart = heapMiB();
const input = buildInput();
const heapInput = heapMiB();
const out = compileSidecarConfigs(input);
const heapOutput = heapMiB();
const whole = measure(() => compileSidecarConfigs(input));
// What one configs reconcile does: compile a single namespace (1/10 of the cluster).
const ns0 = (x: { namespace: string }) => x.namespace === 'ns-0';
const oneNamespace: CompileInput = {
  pods: input.pods.filter(ns0),
  policies: {
    rateLimits: input.policies.rateLimits.filter(ns0),
    circuitBreakers: input.policies.circuitBreakers.filter(ns0),
    chaos: input.policies.chaos.filter(ns0),
    sagas: input.policies.sagas.filter(ns0),
  },
  installation,
};
const namespace = measure(() => compileSidecarConfigs(oneNamespace));
const configBytes = out.configs.reduce((n, c) => n + c.json.length, 0);
console.log(
  JSON.stringify(
    {
      pods: podCount,
      policies: policyCount,
      configs: out.configs.length,
      raftGroups: out.raftGroups.size,
      configJsonMiB: Math.round((configBytes / 2 ** 20) * 10) / 10,
      wholeCluster: whole,
      oneNamespace: { pods: oneNamespace.pods.length, ...namespace },
      heapMiB: {
        input: Math.round(heapInput - heapStart),
        output: Math.round(heapOutput - heapInput),
        total: Math.round(heapOutput),
      },
      gcExposed: global.gc !== undefined,
    },
    null,
    2,
  ),
);
