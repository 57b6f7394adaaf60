/**
 * The rate-limit plugin's options, resolved once at registration into frozen objects. Pure.
 */
import type { Context } from '../context.ts';
import { ConfigError } from '../errors.ts';
import type { VialResponse } from '../response.ts';
import type { GcraPolicy } from './gcra.ts';
import { resolveKey } from './keys.ts';
import type { RateLimitKey, ResolvedKey } from './keys.ts';
import type { RateLimitStore } from './store.ts';

/** What a request gets when the store cannot answer: let it through, or refuse it with 503. */
export type StoreErrorMode = 'open' | 'closed';

export interface LimitOptions {
  /** `limit` requests per `windowSec`, also the burst a client at rest may send at once. */
  readonly limit: number;
  readonly windowSec: number;
  /** Who is counted. Default 'ip'. */
  readonly key?: RateLimitKey;
  /** The policy name in RateLimit headers and metrics: letters, digits, `._:/-`. Default 'default' (a route's own: 'route'). */
  readonly name?: string;
  /** Default 'open': requests pass while the store is down (logged once per outage, counted in /metrics). */
  readonly onStoreError?: StoreErrorMode;
}

export interface LoginLimit {
  readonly limit: number;
  readonly windowSec: number;
}

export interface LoginOptions {
  /** Failed attempts per account name. Default 5 per 15 minutes. */
  readonly perAccount?: LoginLimit;
  /** Failed attempts per client IP (IPv6: per /64), any account. Default 20 per 15 minutes. */
  readonly perIp?: LoginLimit;
  /**
   * Default 'open', as for every limit: logins keep working while the store is down (logged,
   * counted). 'closed' refuses them with 503 instead, so an outage never opens a brute-force window.
   */
  readonly onStoreError?: StoreErrorMode;
}

export interface RateLimitOptions extends Partial<LimitOptions> {
  /** Several limits, each counted on its own; a request must pass all. Or give one limit inline. */
  readonly limits?: readonly LimitOptions[];
  /** Default: a MemoryRateLimitStore of 100,000 keys for this registration. */
  readonly store?: RateLimitStore;
  /**
   * RateLimit and RateLimit-Policy on allowed responses too; they are always on a 429. Default
   * false: per-request headers take a reply off vial's prebuilt-head fast path, which on the hello
   * bench cost a quarter of the request's CPU (docs/ratelimit.md); turn on for clients that pace
   * themselves by them.
   */
  readonly headers?: boolean;
  /** Brute-force protection of routes marked `login` (on when the plugin is registered); `false` turns it off. */
  readonly login?: LoginOptions | false;
}

/** The `login` route option: the form or JSON field that names the account. */
export interface LoginRouteOption {
  /** Default 'username'. */
  readonly account?: string;
  /**
   * Whether the attempt succeeded. Default: the request called `session.login()` (the session's
   * user changed or its id was rotated) and answered below 400. Token APIs without sessions pass
   * their own, e.g. `(ctx, res) => res.status === 200`.
   */
  readonly succeeded?: (ctx: Context, response: VialResponse) => boolean;
}

export type RateLimitRouteOption = false | LimitOptions | readonly LimitOptions[];

export interface ResolvedLimit {
  readonly name: string;
  readonly policy: GcraPolicy;
  readonly key: ResolvedKey;
  readonly onStoreError: StoreErrorMode;
  /** Store key prefix: scope, name, so limits of the same name in two scopes never share counts. */
  readonly prefix: string;
  /** The RateLimit-Policy item, built once: `"api";q=100;w=60`. */
  readonly policyItem: string;
}

export interface ResolvedLogin {
  readonly perAccount: GcraPolicy;
  readonly perIp: GcraPolicy;
  readonly onStoreError: StoreErrorMode;
}

const NAME = /^[\w.:/-]{1,64}$/;

function count(where: string, field: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `${where}: ${field} is a whole number from 1 to ${max}, got ${String(value)}.`);
  }
  return value;
}

function mode(where: string, value: unknown, fallback: StoreErrorMode): StoreErrorMode {
  if (value === undefined) return fallback;
  if (value !== 'open' && value !== 'closed') throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `${where}: onStoreError is 'open' or 'closed', got ${JSON.stringify(value)}.`);
  return value;
}

export function resolveLimit(input: LimitOptions, where: string, scope: string, defaultName: string): ResolvedLimit {
  if (typeof input !== 'object' || input === null) throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `${where}: a limit is { limit, windowSec, key? }, got ${String(input)}.`);
  const name = input.name ?? defaultName;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `${where}: name is 1 to 64 letters, digits or ._:/- (it goes into the RateLimit headers), got ${JSON.stringify(name)}.`);
  }
  const limit = count(where, 'limit', input.limit, 1_000_000_000);
  const windowSec = count(where, 'windowSec', input.windowSec, 366 * 86_400);
  return Object.freeze({
    name,
    policy: Object.freeze({ limit, windowMs: windowSec * 1000 }),
    key: resolveKey(input.key, where),
    onStoreError: mode(where, input.onStoreError, 'open'),
    prefix: `${scope}|${name}|`,
    // draft-ietf-httpapi-ratelimit-headers: a structured-field list of policy items, q=quota, w=window in seconds.
    policyItem: `"${name}";q=${limit};w=${windowSec}`,
  });
}

/** The limits of one registration: `limits`, or the one given inline, or none (login protection only). */
export function resolveLimits(input: RateLimitOptions, scope: string): readonly ResolvedLimit[] {
  const list = input.limits ?? (input.limit !== undefined || input.windowSec !== undefined ? [input as LimitOptions] : []);
  if (!Array.isArray(list)) throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', 'rateLimit: limits is an array of { limit, windowSec, key? }.');
  const resolved = list.map((l: LimitOptions, i) => resolveLimit(l, `rateLimit limits[${i}]`, scope, i === 0 ? 'default' : `limit-${i + 1}`));
  assertUniqueNames(resolved, 'rateLimit');
  return Object.freeze(resolved);
}

export function assertUniqueNames(limits: readonly ResolvedLimit[], where: string): void {
  const seen = new Set<string>();
  for (const { name } of limits) {
    if (seen.has(name)) throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `${where}: two limits are named "${name}"; give each its own name (it keys the counts and the headers).`);
    seen.add(name);
  }
}

export function resolveLogin(input: LoginOptions | false | undefined): ResolvedLogin | undefined {
  if (input === false) return undefined;
  const o = input ?? {};
  const policy = (field: string, value: LoginLimit | undefined, limit: number): GcraPolicy => ({
    limit: count(`rateLimit login.${field}`, 'limit', value?.limit ?? limit, 1_000_000),
    windowMs: count(`rateLimit login.${field}`, 'windowSec', value?.windowSec ?? 900, 366 * 86_400) * 1000,
  });
  return Object.freeze({ perAccount: policy('perAccount', o.perAccount, 5), perIp: policy('perIp', o.perIp, 20), onStoreError: mode('rateLimit login', o.onStoreError, 'open') });
}

export function checkLoginOption(value: unknown): void {
  if (value === true) return;
  const o = value as LoginRouteOption | null;
  if (typeof o !== 'object' || o === null || (o.account !== undefined && (typeof o.account !== 'string' || o.account === '')) || (o.succeeded !== undefined && typeof o.succeeded !== 'function')) {
    throw new ConfigError('VIAL_ERR_ROUTE', "The route option `login` is true or { account: 'username', succeeded?: (ctx, response) => boolean }.");
  }
}
