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

const heapStart = heapMiB();
const input = buildInput();
const heapInput = heapMiB();
const times: number[] = [];
let out = compileSidecarConfigs(input);
for (let run = 0; run < 5; run++) {
  const start = performance.now();
  out = compileSidecarConfigs(input);
  times.push(performance.now() - start);
}
const heapOutput = heapMiB();
const sorted = [...times].sort((a, b) => a - b);
console.log(
  JSON.stringify(
    {
      pods: podCount,
      policies: policyCount,
      configs: out.configs.length,
      raftGroups: out.raftGroups.size,
      compileMs: { runs: times.map((t) => Math.round(t)), median: Math.round(sorted[2] ?? 0) },
      heapMiB: {
        input: Math.round(heapInput - heapStart),
        inputPlusOutput: Math.round(heapOutput - heapStart),
        total: Math.round(heapOutput),
      },
      gcExposed: global.gc !== undefined,
    },
    null,
    2,
  ),
);
