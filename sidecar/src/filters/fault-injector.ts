import type { Random } from '../core/random.js';
import { InvalidFilterConfigError, requireInteger, requireNumber } from './errors.js';

/** Delay the request by `delayMs` ± a uniform `jitterMs`, for `percentage`% of requests. */
export interface LatencyFault {
  type: 'latency';
  delayMs: number;
  /** The delay is drawn uniformly from [delay − jitter, delay + jitter], clamped at 0. Default 0. */
  jitterMs?: number;
  /** In [0, 100]. */
  percentage: number;
}

/** Answer `httpStatus` instead of forwarding, for `percentage`% of requests. */
export interface AbortFault {
  type: 'abort';
  httpStatus: number;
  percentage: number;
}

/** One fault of a ChaosExperiment, already selected for this route and direction. */
export type Fault = LatencyFault | AbortFault;

/**
 * What to do to one request: wait `delayMs` (0: no delay), then, if `abortStatus` is not 0,
 * answer with it instead of forwarding.
 */
export interface FaultDecision {
  readonly delayMs: number;
  readonly abortStatus: number;
}

/** The decision for (almost) every request: no fault. Shared, so the common path allocates nothing. */
export const NO_FAULT: FaultDecision = Object.freeze({ delayMs: 0, abortStatus: 0 });

/**
 * Per-request fault sampling for the faults active on one route and direction, with the injected
 * `Random`. Faults of one type are tried in config order, each with its own draw, until one hits
 * (so the first listed wins); a latency and an abort may both hit one request (delay first, then
 * abort, as Envoy does). A fault at 100% draws nothing. Pure: the proxy applies the decision.
 */
export class FaultInjector {
  private readonly latencies: readonly Required<LatencyFault>[];
  private readonly aborts: readonly AbortFault[];

  constructor(
    faults: readonly Fault[],
    private readonly random: Random,
  ) {
    const latencies: Required<LatencyFault>[] = [];
    const aborts: AbortFault[] = [];
    faults.forEach((fault, i) => {
      requireNumber(`faults[${i}].percentage`, fault.percentage, 0, 100);
      if (fault.type === 'latency') {
        const jitterMs = fault.jitterMs ?? 0;
        requireNumber(`faults[${i}].delay`, fault.delayMs, 0);
        requireNumber(`faults[${i}].jitter`, jitterMs, 0);
        latencies.push({ ...fault, jitterMs });
      } else if (fault.type === 'abort') {
        requireInteger(`faults[${i}].httpStatus`, fault.httpStatus, 200, 599);
        aborts.push(fault);
      } else {
        throw new InvalidFilterConfigError(`faults[${i}].type`, 'expected latency or abort');
      }
    });
    this.latencies = latencies;
    this.aborts = aborts;
  }

  /** True when no fault is configured (the proxy can skip the filter entirely). */
  get empty(): boolean {
    return this.latencies.length === 0 && this.aborts.length === 0;
  }

  /** Decides for one request. */
  decide(): FaultDecision {
    let delayMs = 0;
    let abortStatus = 0;
    for (const fault of this.latencies) {
      if (this.hits(fault.percentage)) {
        delayMs = Math.max(0, fault.delayMs + (this.random.next() * 2 - 1) * fault.jitterMs);
        break;
      }
    }
    for (const fault of this.aborts) {
      if (this.hits(fault.percentage)) {
        abortStatus = fault.httpStatus;
        break;
      }
    }
    return delayMs === 0 && abortStatus === 0 ? NO_FAULT : { delayMs, abortStatus };
  }

  private hits(percentage: number): boolean {
    return percentage >= 100 || (percentage > 0 && this.random.next() * 100 < percentage);
  }
}
