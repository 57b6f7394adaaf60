/**
 * CSRF tokens as pages embed them: a secret, masked afresh for every response, bound either to
 * the stored session (once there is one) or, for anonymous visitors, to a random held in a cookie.
 *
 * Masking (as Django's and Rails' tokens): the token is `pad || (pad XOR secret)` with a new random
 * pad each time, so the bytes on the page change from response to response and a compressed
 * response leaks nothing about the secret through its length (BREACH). Unmasking recovers the
 * secret; a raw (unmasked) secret is accepted too, as Django does, for API clients that read it
 * from the session.
 *
 * Anonymous visitors (issue 13, class 6): a form on a public page needs a token, but creating a
 * stored session for it lets a flood of page views fill the store and evict real users. The secret
 * lives in its own cookie instead (Django's csrftoken cookie), signed with the app's key when it
 * has one so a value planted by a sibling subdomain does not verify; `__Host-` when Secure.
 *
 * Pure: no I/O; the cookie is read from and written to what the caller passes.
 */
import { randomBytes } from 'node:crypto';
import { createCookieSigner } from '../cookies/signing.ts';
import { serializeCookie } from './cookies.ts';
import { tokensEqual } from './csrf.ts';

const SECRET_BYTES = 32;
const SECRET_CHARS = 43; // 32 bytes, base64url unpadded
const MASKED_CHARS = 86; // 64 bytes

/** A fresh masked token for `secret` (base64url of 32 bytes). */
export function maskToken(secret: string): string {
  const raw = Buffer.from(secret, 'base64url');
  const pad = randomBytes(raw.length);
  const out = Buffer.alloc(raw.length * 2);
  pad.copy(out);
  for (let i = 0; i < raw.length; i++) out[raw.length + i] = (raw[i] as number) ^ (pad[i] as number);
  return out.toString('base64url');
}

/** The secret inside a submitted token (masked or raw), or undefined when it has neither shape. */
export function unmaskToken(token: string): string | undefined {
  if (token.length === SECRET_CHARS) return token;
  if (token.length !== MASKED_CHARS) return undefined;
  const bytes = Buffer.from(token, 'base64url');
  // Only the canonical spelling: Node's decoder skips stray characters and ignores the last
  // character's unused low bits, so 16 of 64 different final characters would decode alike.
  if (bytes.length !== SECRET_BYTES * 2 || bytes.toString('base64url') !== token) return undefined;
  const secret = Buffer.alloc(SECRET_BYTES);
  for (let i = 0; i < SECRET_BYTES; i++) secret[i] = (bytes[i] as number) ^ (bytes[SECRET_BYTES + i] as number);
  return secret.toString('base64url');
}

/** True when the submitted token (masked or raw) carries one of the expected secrets. */
export function tokenMatches(submitted: string | undefined, expected: ReadonlyArray<string | undefined>): boolean {
  if (submitted === undefined) return false;
  const secret = unmaskToken(submitted);
  if (secret === undefined) return false;
  let ok = false;
  // Every candidate is compared (no early exit), so timing says nothing about which one matched.
  for (const candidate of expected) if (candidate !== undefined && tokensEqual(secret, candidate)) ok = true;
  return ok;
}

export interface AnonymousCsrfCookie {
  readonly name: string;
  /** The secret in a cookie value, if its signature (when keys are set) holds. */
  read(value: string | undefined): string | undefined;
  /** A new secret and the Set-Cookie header that carries it. */
  issue(): { secret: string; header: string };
}

export interface AnonymousCookieSettings {
  readonly secure: boolean;
  readonly sameSite: 'Lax' | 'Strict';
  /** The app's keys; empty: the cookie holds the bare random (still HttpOnly, and __Host- when Secure). */
  readonly secretKeys: readonly string[];
}

export function createAnonymousCsrfCookie(settings: AnonymousCookieSettings): AnonymousCsrfCookie {
  const name = settings.secure ? '__Host-vial_csrf' : 'vial_csrf';
  const signer = settings.secretKeys.length > 0 ? createCookieSigner(settings.secretKeys) : undefined;
  return {
    name,
    read(value) {
      if (value === undefined) return undefined;
      const secret = signer === undefined ? value : signer.verify(name, value);
      return secret !== undefined && secret.length === SECRET_CHARS ? secret : undefined;
    },
    issue() {
      const secret = randomBytes(SECRET_BYTES).toString('base64url');
      const value = signer === undefined ? secret : signer.sign(name, secret);
      // No Max-Age: a browser-session cookie, like the session cookie (class 7); a form left open
      // across a browser restart simply gets a new token on its next page view.
      const header = serializeCookie(name, value, { path: '/', secure: settings.secure, httpOnly: true, sameSite: settings.sameSite });
      return { secret, header };
    },
  };
}
