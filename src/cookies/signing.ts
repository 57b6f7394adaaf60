/**
 * Signed cookie values: `value.signature`, the signature an HMAC-SHA256 over the cookie's name and
 * value with a key derived from the app's secret (HKDF, its own `info` so it never equals the key
 * that seals cookie sessions). The first key signs; every key verifies, so a key can be rotated
 * out without logging everyone out.
 *
 * Pure module: no I/O, no request context.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export interface CookieSigner {
  sign(name: string, value: string): string;
  /** The value when the signature is valid under any key, else undefined. */
  verify(name: string, signed: string): string | undefined;
}

const INFO = 'vial signed cookie v1';
const SIGNATURE_CHARS = 43; // 32 bytes in base64url, unpadded

export function createCookieSigner(secrets: readonly string[]): CookieSigner {
  const keys = secrets.map((secret) => Buffer.from(hkdfSync('sha256', secret, '', INFO, 32)));
  const mac = (key: Buffer, name: string, value: string): Buffer =>
    // The name is signed with the value so a signed value cannot be moved to another cookie.
    createHmac('sha256', key).update(`${name}=${value}`).digest();
  return {
    sign(name, value) {
      return `${value}.${mac(keys[0] as Buffer, name, value).toString('base64url')}`;
    },
    verify(name, signed) {
      const dot = signed.lastIndexOf('.');
      if (dot === -1 || signed.length - dot - 1 !== SIGNATURE_CHARS) return undefined;
      const value = signed.slice(0, dot);
      const given = Buffer.from(signed.slice(dot + 1), 'base64url');
      if (given.length !== 32) return undefined;
      for (const key of keys) if (timingSafeEqual(given, mac(key, name, value))) return value;
      return undefined;
    },
  };
}
