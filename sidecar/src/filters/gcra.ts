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
 * The same steps as `gcraStep`, atomically in Redis, in one round trip, for a batch of requests
 * grouped by key: KEYS[i] is asked for `count_i` requests in a row (in arrival order; keys are
 * independent, so only the order within a key matters). Grouping makes both the script's work
 * and its reply O(distinct keys), not O(requests): a batch of 32 requests for one key is one
 * GET, one SET and six numbers (decision 0019).
 *
 * KEYS[1..n] the keys' TATs (strings of whole µs, each with a PX TTL of the time to full
 * capacity, so an idle key disappears exactly when forgetting it changes nothing).
 * ARGV[1] intervalUs, ARGV[2] toleranceUs, ARGV[3] now in µs, or '' (or absent) for Redis' own
 * TIME, so that sidecar clocks never matter (a given now is for conformance tests);
 * ARGV[3 + i] count_i, default 1.
 *
 * Returns {nowUs, then per key: admitted, remaining, resetAfterUs, retryAfterUs,
 * refusedResetAfterUs}. Of the key's `count` requests the first `admitted` are admitted (once
 * one is refused, all later ones are: now is fixed and a refusal stores nothing): the j-th of
 * them (0-based) with `remaining - j` left and `resetAfterUs + j * intervalUs` to full capacity;
 * the others are refused with `retryAfterUs` and `refusedResetAfterUs`. That is exactly what
 * `gcraStep` gives step by step (`gcraBatchDecision` in redis-rate-limiter.ts expands it; the
 * Redis integration test replays timelines through both). Numbers stay below 2^53, exact in
 * Lua's doubles; '%.0f' avoids tostring's 14-digit rounding. The keys of a batch must live on
 * one Redis (not a cluster spread over slots): that is how the sidecar uses Redis.
 */
export const GCRA_LUA = `
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now
if ARGV[3] and ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
end
local out = {now}
for i = 1, #KEYS do
  local count = tonumber(ARGV[3 + i] or '1')
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat == nil or tat < now then
    tat = now
  end
  local admitted = 0
  local remaining = 0
  local reset = 0
  while admitted < count do
    local new_tat = tat + interval
    local allow_at = new_tat - tolerance
    if now < allow_at then
      break
    end
    if admitted == 0 then
      remaining = math.floor((now - allow_at) / interval)
      reset = new_tat - now
    end
    admitted = admitted + 1
    tat = new_tat
  end
  if admitted > 0 then
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
  end
  local n = #out
  out[n + 1] = admitted
  out[n + 2] = remaining
  out[n + 3] = reset
  out[n + 4] = tat + interval - tolerance - now
  out[n + 5] = tat - now
end
return out
`;
