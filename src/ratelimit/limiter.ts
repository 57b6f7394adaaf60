/**
 * Running a route's limits on one request: one store step per limit, in order, synchronously when
 * the store answers synchronously (the memory store), so a limited route pays no promise per
 * limit. The first limit that refuses ends the request with 429; a store that fails is the limit's
 * `onStoreError`: 'open' lets the request through, 'closed' answers 503.
 */
import type { Logger } from 'pino';
import type { Context } from '../context.ts';
import { RateLimitedError, RateLimitUnavailableError, seconds } from './errors.ts';
import { rateLimitChannel } from './events.ts';
import type { RateDecision } from './gcra.ts';
import type { ResolvedLimit, StoreErrorMode } from './options.ts';
import type { RateLimitStore } from './store.ts';

/**
 * Store outages, reported once each: a warning when the store first fails and a line when it
 * answers again, never a line per request. Every affected request is counted on `vial:ratelimit`.
 */
export class StoreHealth {
  #failing = false;
  readonly #log: Logger;
  readonly #store: string;

  constructor(log: Logger, store: string) {
    this.#log = log;
    this.#store = store;
  }

  ok(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#log.info({ store: this.#store }, 'vial: the rate-limit store answers again; limits apply');
  }

  failed(ctx: Context, limit: string, key: string, mode: StoreErrorMode, error: unknown): void {
    if (!this.#failing) {
      this.#failing = true;
      const what = mode === 'open' ? 'requests it should limit pass unlimited' : 'requests it should limit are refused with 503';
      this.#log.warn({ err: error, store: this.#store, limit }, `vial: the rate-limit store failed; until it answers, ${what} (onStoreError: '${mode}')`);
    }
    if (rateLimitChannel.hasSubscribers) rateLimitChannel.publish({ route: ctx.route, limit, key, outcome: 'store-error', mode });
  }
}

export interface LimiterDeps {
  readonly store: RateLimitStore;
  readonly health: StoreHealth;
  /** RateLimit headers on allowed responses (always on a 429). */
  readonly headers: boolean;
}

/** Appends one structured-field list item to a response header set by an earlier limit or scope. */
function appendItem(ctx: Context, name: string, item: string): void {
  // Written directly, not through ctx.header(): the items are built from validated names and digits.
  const headers = (ctx.responseHeaders ??= Object.create(null) as Record<string, string | string[]>);
  const current = headers[name];
  headers[name] = current === undefined ? item : `${current as string}, ${item}`;
}

function record(ctx: Context, limit: ResolvedLimit, decision: RateDecision, deps: LimiterDeps): void {
  deps.health.ok();
  if (decision.allowed && !deps.headers) return;
  appendItem(ctx, 'ratelimit-policy', limit.policyItem);
  appendItem(ctx, 'ratelimit', `"${limit.name}";r=${decision.remaining};t=${seconds(decision.resetMs)}`);
  if (decision.allowed) return;
  if (rateLimitChannel.hasSubscribers) rateLimitChannel.publish({ route: ctx.route, limit: limit.name, key: limit.key.kind, outcome: 'limited' });
  const retryAfterSec = Math.max(1, seconds(decision.retryAfterMs));
  throw new RateLimitedError(limit.name, retryAfterSec, { 'retry-after': String(retryAfterSec) });
}

function storeFailed(ctx: Context, limit: ResolvedLimit, deps: LimiterDeps, error: unknown): void {
  deps.health.failed(ctx, limit.name, limit.key.kind, limit.onStoreError, error);
  if (limit.onStoreError === 'closed') throw new RateLimitUnavailableError(limit.name);
}

/** Applies `limits[start..]` to the request; throws (or rejects) with the 429 or 503. */
export function runLimits(ctx: Context, limits: readonly ResolvedLimit[], deps: LimiterDeps, start = 0): void | Promise<void> {
  for (let i = start; i < limits.length; i++) {
    const limit = limits[i] as ResolvedLimit;
    const key = limit.key.read(ctx);
    if (key === undefined) continue;
    let decision: RateDecision | Promise<RateDecision>;
    try {
      decision = deps.store.hit(limit.prefix + key, limit.policy, 1);
    } catch (error) {
      storeFailed(ctx, limit, deps, error);
      continue;
    }
    if (decision instanceof Promise) {
      return decision.then(
        (answer) => {
          record(ctx, limit, answer, deps);
          return runLimits(ctx, limits, deps, i + 1);
        },
        (error: unknown) => {
          storeFailed(ctx, limit, deps, error);
          return runLimits(ctx, limits, deps, i + 1);
        },
      );
    }
    record(ctx, limit, decision, deps);
  }
  return undefined;
}
