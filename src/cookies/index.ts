/**
 * The cookie API on `ctx`: `setCookie`, `clearCookie` and `signedCookie`, a built-in plugin on the
 * seam (docs/cookies.md). Options are resolved once from the app's security config, so the
 * defaults follow the session cookie's: Secure in production or over https, HttpOnly,
 * SameSite=Lax, Path=/. A `__Host-` name gets what its prefix requires (Secure, Path=/, no Domain).
 *
 * Every cookie goes out in its own Set-Cookie header (ctx.header appends them); setting a name
 * twice in one request sends only the last value.
 */
import type { Context } from '../context.ts';
import { ConfigError } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import type { PluginAppView } from '../plugin.ts';
import { serializeCookie } from '../security/cookies.ts';
import type { CookieAttributes } from '../security/cookies.ts';
import { checkSecret } from '../security/secret.ts';
import { createCookieSigner } from './signing.ts';
import type { CookieSigner } from './signing.ts';

export interface CookieOptions {
  readonly maxAgeSec?: number;
  readonly expires?: Date;
  /** Default `/`. */
  readonly path?: string;
  /** Default none: the cookie is sent to this host only. */
  readonly domain?: string;
  /** Default: true in production or over https (as the session cookie), always for `__Host-`/`__Secure-` names. */
  readonly secure?: boolean;
  /** Default true: page scripts cannot read it. Set false only for a value the front end must read. */
  readonly httpOnly?: boolean;
  /** Default `Lax`. `None` needs Secure. */
  readonly sameSite?: 'Strict' | 'Lax' | 'None';
  readonly partitioned?: boolean;
  /** Sign the value with the app's secret key (security.secretKeys; the first signs, all verify). */
  readonly signed?: boolean;
}

export type SetCookie = (name: string, value: string, options?: CookieOptions) => void;
export type ClearCookie = (name: string, options?: Pick<CookieOptions, 'path' | 'domain' | 'secure' | 'sameSite' | 'partitioned'>) => void;
export type SignedCookie = (name: string) => string | undefined;

declare module '../context.ts' {
  interface ContextDecorations {
    /** Sets a cookie on whatever response this request ends with: `ctx.setCookie('theme', 'dark', { maxAgeSec: 86_400 })`. */
    readonly setCookie: SetCookie;
    /** Removes a cookie in the browser (same path and domain as it was set with). */
    readonly clearCookie: ClearCookie;
    /** A cookie set with `{ signed: true }`, if its signature holds under one of the app's keys; else undefined. */
    readonly signedCookie: SignedCookie;
  }
}

interface ResolvedCookies {
  readonly secure: boolean;
  readonly secrets: readonly string[];
  readonly production: boolean;
}

function resolveCookies(_input: undefined, app: PluginAppView): ResolvedCookies {
  const { security, production } = app.config;
  return { secure: security.session.secure, secrets: security.secretKeys, production };
}

/** The attributes a cookie goes out with: the caller's, over the safe defaults. */
export function cookieAttributes(name: string, options: CookieOptions, secureDefault: boolean): CookieAttributes {
  const prefixed = name.startsWith('__Host-') || name.startsWith('__Secure-');
  const attributes: { -readonly [K in keyof CookieAttributes]: CookieAttributes[K] } = {
    path: options.path ?? '/',
    secure: options.secure ?? (secureDefault || prefixed || options.sameSite === 'None'),
    httpOnly: options.httpOnly ?? true,
    sameSite: options.sameSite ?? 'Lax',
  };
  if (options.domain !== undefined) attributes.domain = options.domain;
  if (options.maxAgeSec !== undefined) attributes.maxAgeSec = options.maxAgeSec;
  if (options.expires !== undefined) attributes.expires = options.expires;
  if (options.partitioned !== undefined) attributes.partitioned = options.partitioned;
  return attributes;
}

/** Replaces an earlier Set-Cookie for the same name in this request, then adds this one. */
function putCookie(ctx: Context, name: string, header: string): void {
  const pending = ctx.responseHeaders?.['set-cookie'];
  if (Array.isArray(pending)) {
    const i = pending.findIndex((line) => line.startsWith(`${name}=`));
    if (i !== -1) pending.splice(i, 1);
  }
  ctx.header('set-cookie', header);
}

export const cookies = definePlugin<ResolvedCookies, undefined>({
  name: 'cookies',
  options: resolveCookies,
  setup(r, { secure, secrets, production }) {
    let signer: CookieSigner | undefined;
    const getSigner = (): CookieSigner => {
      if (signer !== undefined) return signer;
      if (secrets.length === 0) {
        // Same policy as the session secret: refused in production, ephemeral (with a warning) in development.
        if (production) {
          throw new ConfigError('VIAL_ERR_WEAK_SECRET', 'Signed cookies need a secret key: set security.secretKey (or VIAL_SECRET_KEY).');
        }
        const checked = checkSecret(undefined, { production });
        if (checked.warning !== undefined) r.app.log.warn(checked.warning);
        signer = createCookieSigner([checked.secret]);
      } else {
        signer = createCookieSigner(secrets);
      }
      return signer;
    };

    r.decorate('setCookie', (ctx) =>
      function setCookie(name: string, value: string, options: CookieOptions = {}): void {
        const attributes = cookieAttributes(name, options, secure);
        // Serialized before signing too, so a bad name or value fails with its own message.
        let header = serializeCookie(name, value, attributes);
        if (options.signed === true) header = serializeCookie(name, getSigner().sign(name, value), attributes);
        putCookie(ctx, name, header);
      },
    );
    r.decorate('clearCookie', (ctx) =>
      function clearCookie(name: string, options: Parameters<ClearCookie>[1] = {}): void {
        const attributes = cookieAttributes(name, { ...options, maxAgeSec: 0, expires: new Date(0) }, secure);
        putCookie(ctx, name, serializeCookie(name, '', attributes));
      },
    );
    r.decorate('signedCookie', (ctx) =>
      function signedCookie(name: string): string | undefined {
        const raw = ctx.request.cookies[name];
        return raw === undefined ? undefined : getSigner().verify(name, raw);
      },
    );
  },
});
