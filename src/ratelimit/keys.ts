/**
 * Who a limit counts: the client IP (as vial sees it through `trustProxy`), the session user, an
 * API-key header, or the application's own function. Resolved once per limit into a small object;
 * pure apart from reading the request it is given.
 */
import { hash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Context } from '../context.ts';
import { ConfigError } from '../errors.ts';

/**
 * - `'ip'`: the client address (request.ip, so through trusted proxies only); IPv6 by its /64,
 *   since one host is routinely given a whole /64 and could otherwise rotate through it.
 * - `'user'`: the logged-in session user; requests without one count per IP.
 * - `{ header }`: a header such as an API key (hashed: the secret is never stored); requests
 *   without it count per IP.
 * - a function of ctx: its string, or undefined to not limit this request. It runs before the
 *   session is loaded; for the session user use `'user'`.
 */
export type RateLimitKey = 'ip' | 'user' | { readonly header: string } | ((ctx: Context) => string | undefined);

export type KeyKind = 'ip' | 'user' | 'header' | 'function';

export interface ResolvedKey {
  readonly kind: KeyKind;
  /** 'request': before the guard (onRequest). 'handler': after the session is loaded (beforeHandler). */
  readonly phase: 'request' | 'handler';
  read(ctx: Context): string | undefined;
}

/** An opaque, fixed-length stand-in for a secret or an account name: 128 bits of SHA-256. */
export function digest(value: string): string {
  return hash('sha256', value, 'base64url').slice(0, 22);
}

/** The IPv6 /64 a client address belongs to (IPv4 and IPv4-mapped addresses as they are). */
export function ipKey(ip: string | undefined): string {
  if (ip === undefined || ip === '') return 'ip:unknown';
  // IPv4, the common case, without isIPv6's parse.
  if (!ip.includes(':') || !isIPv6(ip)) return `ip:${ip}`;
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return `ip:${lower.slice(7)}`;
  const zone = lower.indexOf('%');
  const [head = '', tail = ''] = (zone === -1 ? lower : lower.slice(0, zone)).split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = lower.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `ip:${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

const fromIp = (ctx: Context): string => ipKey(ctx.request.ip);

export function resolveKey(key: RateLimitKey | undefined, where: string): ResolvedKey {
  if (key === undefined || key === 'ip') return { kind: 'ip', phase: 'request', read: fromIp };
  if (key === 'user') {
    return {
      kind: 'user',
      phase: 'handler',
      read: (ctx) => {
        const user = ctx.sessionState?.userId;
        return user === undefined ? fromIp(ctx) : `user:${digest(user)}`;
      },
    };
  }
  if (typeof key === 'function') {
    return {
      kind: 'function',
      phase: 'request',
      read: (ctx) => {
        const value = key(ctx);
        if (value !== undefined && typeof value !== 'string') {
          throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `${where}: the key function returned ${typeof value}; return a string, or undefined to not limit the request.`);
        }
        return value === undefined ? undefined : `fn:${value.length > 64 ? digest(value) : value}`;
      },
    };
  }
  if (typeof key === 'object' && key !== null && typeof key.header === 'string' && /^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(key.header)) {
    const name = key.header.toLowerCase();
    return {
      kind: 'header',
      phase: 'request',
      read: (ctx) => {
        const value = ctx.request.raw.headers[name];
        return typeof value === 'string' && value !== '' ? `key:${digest(value)}` : fromIp(ctx);
      },
    };
  }
  throw new ConfigError('VIAL_ERR_RATE_LIMIT_OPTIONS', `${where}: key is 'ip', 'user', { header: 'x-api-key' } or a function of ctx, got ${JSON.stringify(key) ?? typeof key}.`);
}
