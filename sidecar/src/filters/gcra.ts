import { capacityOf, validateRateLimitSpec, type RateLimitSpec } from './rate-limit-decision.js';

/**
 * GCRA (generic cell rate algorithm), the global limiter's math. One number per key, the
 * theoretical arrival time (TAT): the instant at which the key's bucket would be full again. A
 * request at `now` is admitted iff `max(TAT, now) + interval - now <= tolerance`, and then
 * `TAT := max(TAT, now) + interval`.
 *
 * Everything is in integer microseconds so that the TypeScript here and the Lua in `GCRA_LUA`
 * (Redis numbers are doubles; TIME is whole µs) compute bit-for-bit the same thing. The TS version
 * is the reference that the unit and property tests check; the Redis integration test replays a
 * timeline through both and compares.
 *
 * Bound (the property tests check it): in any interval of length `d` µs, a key gets at most
 * `capacity + d / interval` admissions. Because the interval is rounded UP to a whole µs, that
 * is never more than `RateLimitSpec` allows.
 */
export interface GcraParams {
  /** µs between two requests at the steady rate: ceil(periodMs * 1000 / requests), ≥ 1. */
  readonly intervalUs: number;
  /** Requests admitted at once from idle: `requests + burst`. */
  readonly capacity: number;
  /** `capacity * intervalUs`: how far TAT may run ahead of now. */
  readonly toleranceUs: number;
}

/** Derives the GCRA parameters of a rule (config time). */
export function gcraParams(spec: RateLimitSpec): GcraParams {
  validateRateLimitSpec(spec);
  const intervalUs = Math.max(1, Math.ceil((spec.periodMs * 1000) / spec.requests));
  const capacity = capacityOf(spec);
  return { intervalUs, capacity, toleranceUs: capacity * intervalUs };
}

/** Result of one GCRA step; the same four numbers the Lua script returns, plus the new TAT. */
export interface GcraStep {
  readonly allowed: boolean;
  /** Requests still admissible right now after this one. */
  readonly remaining: number;
  /** 0 when allowed; else µs until one request would be admitted. */
  readonly retryAfterUs: number;
  /** µs until the key is back to full capacity (also the stored key's TTL). */
  readonly resetAfterUs: number;
  /** The key's TAT after this step (what Redis stores when allowed; unchanged when refused). */
  readonly tatUs: number;
}

/**
 * One GCRA decision. `tatUs` is the stored TAT or `undefined` for a key with no state (never
 * seen, or expired: Redis drops a key once TAT has passed, which is equivalent).
 */
export function gcraStep(tatUs: number | undefined, nowUs: number, params: GcraParams): GcraStep {
  const tat = tatUs === undefined || tatUs < nowUs ? nowUs : tatUs;
  const newTat = tat + params.intervalUs;
  const allowAt = newTat - params.toleranceUs;
  if (nowUs < allowAt) {
    return {
      allowed: false,
      remaining: 0,
      retryAfterUs: allowAt - nowUs,
      resetAfterUs: tat - nowUs,
      tatUs: tat,
    };
  }
  return {
    allowed: true,
    remaining: Math.floor((nowUs - allowAt) / params.intervalUs),
    retryAfterUs: 0,
    resetAfterUs: newTat - nowUs,
    tatUs: newTat,
  };
}

/**
 * The same step as `gcraStep`, atomically in Redis, in one round trip, for one key or for a batch
 * of keys taken in order (a key may repeat: each step sees the TAT the previous one stored).
 *
 * KEYS[1..n] the keys' TATs (strings of whole µs, each with a PX TTL of the time to full
 * capacity, so an idle key disappears exactly when forgetting it changes nothing).
 * ARGV[1] intervalUs, ARGV[2] toleranceUs, ARGV[3] (optional, conformance tests only) now in µs;
 * otherwise now is Redis' own TIME, so sidecar clocks never matter.
 * Returns, per key, {allowed 0|1, remaining, retryAfterUs, resetAfterUs, nowUs}: the `gcraStep`
 * numbers plus the Redis time the decision was taken at (for traces, and for tests that replay
 * the decisions through `gcraStep`). Numbers stay below 2^53, exact in Lua's doubles; '%.0f'
 * avoids tostring's 14-digit rounding. The keys of a batch must live on one Redis (not a
 * cluster spread over slots): that is how the sidecar uses Redis.
 */
export const GCRA_LUA = `
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now
if ARGV[3] then
  now = tonumber(ARGV[3])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local out = {}
for i = 1, #KEYS do
  local n = #out
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat == nil or tat < now then
    tat = now
  end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance
  if now < allow_at then
    out[n + 1] = 0
    out[n + 2] = 0
    out[n + 3] = allow_at - now
    out[n + 4] = tat - now
  else
    local reset = new_tat - now
    redis.call('SET', KEYS[i], string.format('%.0f', new_tat), 'PX', math.ceil(reset / 1000))
    out[n + 1] = 1
    out[n + 2] = math.floor((now - allow_at) / interval)
    out[n + 3] = 0
    out[n + 4] = reset
  end
  out[n + 5] = now
end
return out
`;
