/**
 * Reads client-side session cookies the way an attacker would: Flask's itsdangerous format and
 * JWTs. Their contents are only signed, not encrypted, so anyone can read them; and a signature
 * made with a well-known secret ("supersecretkey") lets anyone forge one. Pure: no I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { WEAK_SECRETS } from '../../internal/weak-secrets.ts';

export interface SignedCookie {
  readonly format: 'flask' | 'jwt';
  /** The decoded payload, or undefined when it is not readable text. */
  readonly payload: string | undefined;
  /** The well-known secret that verifies the signature, if any. */
  readonly weakSecret: string | undefined;
}

// Secrets seen in tutorials and leaked configs, besides the ones vial itself refuses.
const EXTRA_SECRETS = ['dev', 'development', 'secret-key', 'secret_key', 'your-secret-key', 'your_secret_key', 'change-me', 'flask', 'test', 'password', '123456'];

function candidates(): string[] {
  return [...new Set([...WEAK_SECRETS, ...EXTRA_SECRETS])];
}

function sameBase64(a: string, b: Buffer): boolean {
  const left = Buffer.from(a, 'base64url');
  return left.length === b.length && timingSafeEqual(left, b);
}

function printable(buffer: Buffer): string | undefined {
  const text = buffer.toString('utf8');
  return /^[\x20-\x7e\s]+$/.test(text) ? text : undefined;
}

/** Flask: `[.]payload.timestamp.signature`, HMAC-SHA1 over `payload.timestamp` with key HMAC-SHA1(secret, 'cookie-session'). */
function readFlask(value: string): SignedCookie | undefined {
  const match = /^(\.?[A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{20,})$/.exec(value);
  if (match === null) return undefined;
  const [, payload = '', timestamp = '', signature = ''] = match;
  let decoded: string | undefined;
  try {
    const bytes = Buffer.from(payload.replace(/^\./, ''), 'base64url');
    decoded = printable(payload.startsWith('.') ? inflateSync(bytes) : bytes);
  } catch {
    decoded = undefined;
  }
  if (decoded === undefined || !decoded.startsWith('{')) return undefined;
  const signed = `${payload}.${timestamp}`;
  const weakSecret = candidates().find((secret) => {
    const key = createHmac('sha1', secret).update('cookie-session').digest();
    return sameBase64(signature, createHmac('sha1', key).update(signed).digest());
  });
  return { format: 'flask', payload: decoded, weakSecret };
}

/** JWT (HS256/384/512): `header.payload.signature`, all base64url. */
function readJwt(value: string): SignedCookie | undefined {
  const parts = value.split('.');
  if (parts.length !== 3) return undefined;
  const [head = '', body = '', signature = ''] = parts;
  let alg: unknown;
  try {
    alg = (JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
  } catch {
    return undefined;
  }
  if (typeof alg !== 'string') return undefined;
  const hash = alg === 'HS256' ? 'sha256' : alg === 'HS384' ? 'sha384' : alg === 'HS512' ? 'sha512' : undefined;
  const payload = printable(Buffer.from(body, 'base64url'));
  const weakSecret = hash === undefined ? undefined : candidates().find((secret) => sameBase64(signature, createHmac(hash, secret).update(`${head}.${body}`).digest()));
  return { format: 'jwt', payload, weakSecret };
}

export function readSignedCookie(value: string): SignedCookie | undefined {
  let unquoted = value.replace(/^"|"$/g, '');
  try {
    unquoted = decodeURIComponent(unquoted);
  } catch {
    // not percent-encoded: read it as it is
  }
  return readFlask(unquoted) ?? readJwt(unquoted);
}
