/**
 * The `fault` position of both stacks: the latency and abort faults of running
 * ChaosExperiments, for requests of this direction that match each fault's `match`. Sampling is
 * the pure `FaultInjector`'s (one per fault, with the injected random source); this shell waits
 * and refuses. Faults are tried in config order: the first latency that hits delays the request,
 * then the first abort that hits answers with its status instead of forwarding. Every injected
 * fault counts in `palisade_faults_injected_total{experiment,type}`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Random } from '../core/random.js';
import { FaultInjector, type Fault, type RouteMatcher } from '../filters/index.js';
import type { CounterCell } from '../metrics/index.js';
import { PolicyRefusal, type Filter, type ProxyRequest } from '../proxy/index.js';
import { PALISADE_SPAN_ATTRIBUTES } from '../tracing/tracing.js';

/** Stable code of a request answered by an injected abort. */
export const FAULT_ABORT_CODE = 'FAULT_INJECTED';

/** Header on every injected abort, so a client (or a test) can tell it from a real failure. */
export const FAULT_HEADER = 'x-palisade-fault';

/** One fault of one direction, compiled. */
export interface CompiledFault {
  /** `namespace/name` of the ChaosExperiment. */
  readonly experiment: string;
  readonly fault: Fault;
  readonly matches: RouteMatcher;
  /** `palisade_faults_injected_total{experiment,type}`. */
  readonly injected: CounterCell;
}

/** Options of `createFaultFilter`. */
export interface FaultFilterOptions {
  /** In config order; must not be empty. */
  readonly faults: readonly CompiledFault[];
  readonly random: Random;
}

interface Entry {
  readonly injector: FaultInjector;
  readonly matches: RouteMatcher;
  readonly injected: CounterCell;
  /** Set for abort faults: the answer, built once. */
  readonly refusal: PolicyRefusal | null;
  readonly experiment: string;
  readonly type: 'latency' | 'abort';
}

/** Records an injected fault on the request's span, when it is traced. */
function recordFault(req: ProxyRequest, entry: Entry): void {
  const attributes = req.spanAttributes;
  if (attributes === null) return;
  attributes[PALISADE_SPAN_ATTRIBUTES.fault] = entry.type;
  attributes[PALISADE_SPAN_ATTRIBUTES.faultExperiment] = entry.experiment;
}

/** Builds the fault filter of one direction. */
export function createFaultFilter(options: FaultFilterOptions): Filter {
  const latencies: Entry[] = [];
  const aborts: Entry[] = [];
  for (const compiled of options.faults) {
    const entry: Entry = {
      injector: new FaultInjector([compiled.fault], options.random),
      matches: compiled.matches,
      injected: compiled.injected,
      experiment: compiled.experiment,
      type: compiled.fault.type,
      refusal:
        compiled.fault.type === 'abort'
          ? new PolicyRefusal(
              FAULT_ABORT_CODE,
              compiled.fault.httpStatus,
              [FAULT_HEADER, `abort; experiment=${compiled.experiment}`],
              `fault injected by ${compiled.experiment}`,
            )
          : null,
    };
    (compiled.fault.type === 'latency' ? latencies : aborts).push(entry);
  }

  /** The first abort that hits, or null. */
  const abortFor = (req: ProxyRequest): PolicyRefusal | null => {
    for (const entry of aborts) {
      if (entry.matches(req.method, req.path, req.headers) && entry.injector.decide().abortStatus) {
        entry.injected.value++;
        recordFault(req, entry);
        return entry.refusal;
      }
    }
    return null;
  };

  return (next) => (req) => {
    let delayMs = 0;
    for (const entry of latencies) {
      if (!entry.matches(req.method, req.path, req.headers)) continue;
      delayMs = entry.injector.decide().delayMs;
      if (delayMs > 0) {
        entry.injected.value++;
        recordFault(req, entry);
        break;
      }
    }
    if (delayMs > 0) {
      return sleep(delayMs).then(() => {
        const refusal = abortFor(req);
        if (refusal !== null) throw refusal;
        return next(req);
      });
    }
    const refusal = abortFor(req);
    return refusal === null ? next(req) : Promise.reject(refusal);
  };
}
