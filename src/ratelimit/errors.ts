/**
 * The rate limiter's answers, as VialErrors so the error home (error-response.ts) renders them:
 * JSON or HTML, with the request id, and the headers each carries.
 */
import { VialError } from '../errors.ts';

/** 429 from a limit: Retry-After and the RateLimit headers of the limit that refused. */
export class RateLimitedError extends VialError {
  constructor(name: string, retryAfterSec: number, headers: Record<string, string>) {
    super('VIAL_ERR_RATE_LIMITED', `Too many requests (limit "${name}"). Try again in ${retryAfterSec} s.`, { status: 429, expose: true, headers });
  }
}

/**
 * 429 from login protection. Intentionally the same message whether the account exists or not,
 * and whether the account or the IP ran out: the limiter never looks accounts up, so neither its
 * answer nor its timing can tell an attacker which names are real.
 */
export class LoginRateLimitedError extends VialError {
  constructor(retryAfterSec: number) {
    super('VIAL_ERR_LOGIN_RATE_LIMITED', `Too many failed login attempts. Try again in ${retryAfterSec} s.`, {
      status: 429,
      expose: true,
      headers: { 'retry-after': String(retryAfterSec) },
    });
  }
}

/** 503 from a limit with `onStoreError: 'closed'` whose store did not answer. */
export class RateLimitUnavailableError extends VialError {
  constructor(name: string) {
    super(
      'VIAL_ERR_RATE_LIMIT_UNAVAILABLE',
      `The rate limit "${name}" cannot be checked right now (its store did not answer), and this route refuses requests it cannot check. Try again in a moment.`,
      { status: 503, expose: true, headers: { 'retry-after': '1' } },
    );
  }
}

/** Whole seconds for Retry-After and the `t` parameter: never 0 for a wait that is not over. */
export function seconds(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / 1000 - 1e-9);
}
