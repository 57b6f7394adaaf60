/**
 * GCRA, the generic cell rate algorithm (ITU-T I.371; the "virtual scheduling" form), as the rate
 * limiter's one algorithm. Pure: numbers in, numbers out; the caller passes the clock.
 *
 * Why GCRA and not a window counter: a fixed window lets a client spend its whole quota at the end
 * of one window and again at the start of the next (twice the limit in an instant); a sliding log
 * stores one timestamp per request; a sliding-window counter stores two counters and approximates.
 * GCRA stores ONE number per key, the theoretical arrival time (TAT): the moment the client's
 * bucket would be empty again if it stopped now. A request costs `intervalMs = windowMs / limit`;
 * it is allowed while the bucket, `TAT - now`, stays within `windowMs`. So a client at rest may
 * send `limit` requests at once, and after that one per `intervalMs`: over any span of `s` ms at
 * most `limit + s / intervalMs`, and never more than `limit` in an instant. The long-run rate is
 * exactly `limit` per window, with no window edge to double up on, and a client that pauses gets
 * its quota back in proportion to the pause instead of all at once at a boundary.
 *
 * The same step runs in the memory store (here) and in the Redis store's Lua script
 * (redis-store.ts), which copies it line for line; test/ratelimit-redis.test.ts checks they agree.
 */

export interface GcraPolicy {
  /** Requests allowed in `windowMs` (also the burst from rest). */
  readonly limit: number;
  readonly windowMs: number;
}

/** Float slack so that `limit` × `windowMs / limit` still fits in `windowMs` (1000 / 3 × 3). */
export const EPSILON_MS = 1e-6;

export interface GcraStep {
  readonly allowed: boolean;
  /** The TAT to store (unchanged when refused). */
  readonly tat: number;
  /** `TAT - now` after the step: how full the bucket is, in ms (0 = full quota). */
  readonly usedMs: number;
}

/**
 * One request of `cost` units at `now` against a key whose stored TAT is `tat` (undefined: never
 * seen, or expired). A negative cost gives units back (a refund) and is always allowed; 0 reads.
 */
export function gcraStep(tat: number | undefined, now: number, policy: GcraPolicy, cost: number): GcraStep {
  const intervalMs = policy.windowMs / policy.limit;
  const base = tat === undefined || tat < now ? now : tat;
  let next = base + cost * intervalMs;
  if (cost < 0 && next < now) next = now;
  if (next - now <= policy.windowMs + EPSILON_MS) return { allowed: true, tat: next, usedMs: next - now };
  return { allowed: false, tat: base, usedMs: base - now };
}

/** What a limit tells the client after a step: the fields of the RateLimit headers and Retry-After. */
export interface RateDecision {
  readonly allowed: boolean;
  /** Requests still allowed right now (the RateLimit `r` parameter). */
  readonly remaining: number;
  /** Milliseconds until the full quota is back (`t`). */
  readonly resetMs: number;
  /** Milliseconds until this request would be allowed; 0 when it was. */
  readonly retryAfterMs: number;
}

/** The decision a step means, from `allowed` and `usedMs` alone (all the Redis script returns). */
export function decide(allowed: boolean, usedMs: number, policy: GcraPolicy, cost: number): RateDecision {
  const intervalMs = policy.windowMs / policy.limit;
  const used = usedMs < 0 ? 0 : usedMs;
  const remaining = Math.max(0, Math.floor((policy.windowMs - used) / intervalMs + EPSILON_MS));
  const retryAfterMs = allowed ? 0 : Math.max(0, used + cost * intervalMs - policy.windowMs);
  return { allowed, remaining, resetMs: used, retryAfterMs };
}
