/**
 * Brute-force protection for routes marked `login`: failed attempts are limited per account name
 * and per client IP. Each attempt takes a unit from both before the handler runs (so concurrent
 * guesses cannot slip past a check-then-count race); an attempt that succeeds resets the account's
 * count and gives the IP its unit back, so only failures accumulate and a busy office behind one
 * NAT address is not locked out by its own successful logins.
 *
 * The answer never depends on whether the account exists: the limiter keys on the submitted name
 * (normalised and hashed) and never looks it up, and it answers before the handler runs, so a
 * refused guess costs the same for a real and an unknown account.
 */
import type { Context } from '../context.ts';
import type { VialResponse } from '../response.ts';
import { sessionState } from '../security/session.ts';
import type { Session } from '../security/session.ts';
import { LoginRateLimitedError, RateLimitUnavailableError, seconds } from './errors.ts';
import { rateLimitChannel } from './events.ts';
import type { GcraPolicy, RateDecision } from './gcra.ts';
import { digest, ipKey } from './keys.ts';
import type { LimiterDeps } from './limiter.ts';
import type { LoginRouteOption, ResolvedLogin } from './options.ts';
import type { RouteHooks } from '../plugin.ts';

interface Attempt {
  accountKey: string | undefined;
  ipKey: string;
  userBefore: string | undefined;
  idBefore: string | undefined;
  refused: boolean;
}

const MAX_ACCOUNT_CHARS = 320; // an e-mail address at most (RFC 5321 limits)

/** Case, width and surrounding spaces do not make a new account name to guess against. */
export function normaliseAccount(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.normalize('NFKC').trim().toLowerCase().slice(0, MAX_ACCOUNT_CHARS);
  return name === '' ? undefined : name;
}

async function submittedAccount(ctx: Context, field: string): Promise<string | undefined> {
  const request = ctx.request;
  const type = request.contentType;
  try {
    if (type === 'application/json' || type.endsWith('+json')) {
      const body = await request.json<unknown>();
      return typeof body === 'object' && body !== null ? normaliseAccount((body as Record<string, unknown>)[field]) : undefined;
    }
    if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') return normaliseAccount((await request.form()).get(field));
  } catch {
    // intentionally: a malformed body is the handler's to refuse (it reads it again and gets the
    // same 400); the attempt still counts against the IP.
  }
  return undefined;
}

/** The default `succeeded`: this request logged a user in (the user changed, or the id was rotated by login()). */
function sessionLoggedIn(ctx: Context, response: VialResponse, before: Attempt): boolean {
  const session = ctx.sessionState as Session | undefined;
  if (response.status >= 400 || session === undefined || session.userId === undefined) return false;
  if (session.userId !== before.userBefore) return true;
  return before.idBefore !== undefined && sessionState(session).id === undefined;
}

export function loginHooks(option: true | LoginRouteOption, login: ResolvedLogin, scope: string, deps: LimiterDeps): RouteHooks & { onRequest: NonNullable<RouteHooks['onRequest']> } {
  const field = option === true ? 'username' : (option.account ?? 'username');
  const succeeded = option === true ? undefined : option.succeeded;
  const attempts = new WeakMap<Context, Attempt>();

  async function take(ctx: Context, key: string, policy: GcraPolicy, kind: 'account' | 'ip'): Promise<void> {
    let decision: RateDecision;
    try {
      decision = await deps.store.hit(key, policy, 1);
      deps.health.ok();
    } catch (error) {
      deps.health.failed(ctx, `login-${kind}`, kind === 'ip' ? 'ip' : 'account', login.onStoreError, error);
      if (login.onStoreError === 'closed') throw new RateLimitUnavailableError(`login-${kind}`);
      return;
    }
    if (decision.allowed) return;
    const attempt = attempts.get(ctx);
    if (attempt !== undefined) attempt.refused = true;
    if (rateLimitChannel.hasSubscribers) rateLimitChannel.publish({ route: ctx.route, limit: `login-${kind}`, key: kind, outcome: 'limited' });
    throw new LoginRateLimitedError(Math.max(1, seconds(decision.retryAfterMs)));
  }

  /** Settles the attempt; store failures here only cost accuracy, never the response. */
  async function settle(ctx: Context, attempt: Attempt, response: VialResponse): Promise<void> {
    const ok = succeeded !== undefined ? succeeded(ctx, response) : sessionLoggedIn(ctx, response, attempt);
    if (!ok) return;
    try {
      if (attempt.accountKey !== undefined) await deps.store.reset(attempt.accountKey);
      await deps.store.hit(attempt.ipKey, login.perIp, -1);
    } catch (error) {
      deps.health.failed(ctx, 'login-reset', 'account', 'open', error);
    }
  }

  return {
    onRequest: async function loginPerIp(ctx: Context): Promise<undefined> {
      const attempt: Attempt = { accountKey: undefined, ipKey: `${scope}|login-ip|${ipKey(ctx.request.ip)}`, userBefore: undefined, idBefore: undefined, refused: false };
      attempts.set(ctx, attempt);
      await take(ctx, attempt.ipKey, login.perIp, 'ip');
      return undefined;
    },
    beforeHandler: async function loginPerAccount(ctx: Context): Promise<undefined> {
      const attempt = attempts.get(ctx);
      if (attempt === undefined) return undefined;
      const session = ctx.sessionState as Session | undefined;
      attempt.userBefore = session?.userId;
      attempt.idBefore = session === undefined ? undefined : sessionState(session).id;
      const account = await submittedAccount(ctx, field);
      if (account === undefined) return undefined;
      attempt.accountKey = `${scope}|login-account|${digest(account)}`;
      await take(ctx, attempt.accountKey, login.perAccount, 'account');
      return undefined;
    },
    onResponse: async function loginOutcome(ctx: Context, response: VialResponse): Promise<void> {
      const attempt = attempts.get(ctx);
      if (attempt !== undefined && !attempt.refused) await settle(ctx, attempt, response);
    },
  };
}
