/**
 * `vial:ratelimit`: published for each request a limit refused (429) and each one a store failure
 * touched; /metrics counts them by route and key kind. Leaf module: the payload type lives next to
 * its publisher (index.ts, login.ts), and metrics.ts imports only this file.
 */
import type { RouteInfo } from '../context.ts';
import { typedChannel } from '../internal/channels.ts';

export interface RateLimitEvent {
  /** The route, to tell apps apart in one process (metrics keep their own routes). */
  readonly route: RouteInfo | undefined;
  /** The limit's name ('login-account', 'login-ip' for login protection). */
  readonly limit: string;
  /** Who was counted: 'ip', 'user', 'header', 'function', or 'account' (login). */
  readonly key: string;
  /** 'limited': answered 429. 'store-error': the store failed; `mode` says what the request got. */
  readonly outcome: 'limited' | 'store-error';
  readonly mode?: 'open' | 'closed';
}

export const rateLimitChannel = typedChannel<RateLimitEvent>('vial:ratelimit');
