/**
 * Stateless sessions sealed in the cookie itself, behind the same SessionManager and Session
 * interface as the server-side stores.
 *
 * Sealing: AES-256-GCM (NIST SP 800-38D) with a random 96-bit IV per seal; keys derived with HKDF
 * (RFC 5869, SHA-256) from each secret. The first secret seals, every secret opens, so a secret is
 * rotated by putting the new one first and dropping the old one after the absolute timeout.
 * The cookie name is bound in as additional authenticated data, so a sealed value cannot be
 * replayed under another cookie. Layout, base64url-encoded:
 *   version (1 byte) | key hint (2 bytes) | iv (12) | ciphertext | tag (16)
 *
 * Limits (docs/sessions.md): a stolen cookie stays valid until its timeouts run out (no
 * server-side logout), and everything must fit in one 4 KiB cookie.
 */

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError, VialError } from '../errors.ts';
import {
  reportRejection,
  resolveCookieSettings,
  sessionCookie,
  type SessionCookieOptions,
  type SessionManager,
  type SetCookie,
} from './session-manager.ts';
import { Session, sessionState } from './session.ts';

export interface CookieSessionOptions extends SessionCookieOptions {
  /** One or more secrets; the first seals, all open. */
  readonly secrets: readonly string[];
  /** Largest Set-Cookie name=value in bytes (RFC 6265 §6.1 asks browsers for at least 4096). Default 4096. */
  readonly maxCookieBytes?: number;
}

const VERSION = 1;
const HINT_BYTES = 2;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + HINT_BYTES + IV_BYTES;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

interface Key {
  readonly key: Buffer;
  readonly hint: Buffer;
}

interface Payload {
  d: Record<string, unknown>;
  u?: string;
  c: number;
  l: number;
}

function deriveKey(secret: string): Key {
  const ikm = Buffer.from(secret, 'utf8');
  const key = Buffer.from(hkdfSync('sha256', ikm, 'vial-cookie-session', 'aes-256-gcm key v1', 32));
  // A separate derivation, so the hint says nothing about the key itself.
  const hint = Buffer.from(hkdfSync('sha256', ikm, 'vial-cookie-session', 'key hint v1', HINT_BYTES));
  return { key, hint };
}

export function createCookieSessionManager(options: CookieSessionOptions): SessionManager {
  const settings = resolveCookieSettings(options);
  const maxCookieBytes = options.maxCookieBytes ?? 4096;
  if (options.secrets.length === 0 || options.secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ConfigError('VIAL_ERR_SESSION_OPTIONS', 'Cookie sessions need at least one non-empty secret (security.secretKey or secretKeys).');
  }
  if (!Number.isSafeInteger(maxCookieBytes) || maxCookieBytes < 256) {
    throw new ConfigError('VIAL_ERR_SESSION_OPTIONS', `Cookie session maxCookieBytes must be an integer of at least 256, got ${maxCookieBytes}.`);
  }
  const keys = options.secrets.map(deriveKey);
  const sealKey = keys[0] as Key;
  const aad = Buffer.from(`vial-cookie-session:v${VERSION}:${settings.cookieName}`);
  // Base64 grows 4/3; anything longer than the largest cookie we would ever issue is not ours.
  const maxValueChars = Math.ceil((maxCookieBytes * 4) / 3);

  function seal(payload: Payload): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', sealKey.key, iv);
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), sealKey.hint, iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** Sessions whose cookie a key other than the sealing one opened (re-sealed at commit). */
  const openedWithOldKey = new WeakSet<Session>();

  function open(value: string): { payload: Payload; current: boolean } | undefined {
    if (value.length > maxValueChars || !BASE64URL.test(value)) return undefined;
    const raw = Buffer.from(value, 'base64url');
    // Node's decoder skips trailing partial characters; only the canonical encoding is ours.
    if (raw.toString('base64url') !== value) return undefined;
    if (raw.length < HEADER_BYTES + TAG_BYTES || raw[0] !== VERSION) return undefined;
    const hint = raw.subarray(1, 1 + HINT_BYTES);
    const iv = raw.subarray(1 + HINT_BYTES, HEADER_BYTES);
    const body = raw.subarray(HEADER_BYTES, raw.length - TAG_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    // The hint only picks which keys to try; authentication is GCM's tag alone.
    for (const candidate of keys) {
      if (!candidate.hint.equals(hint)) continue;
      try {
        const decipher = createDecipheriv('aes-256-gcm', candidate.key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad);
        decipher.setAuthTag(tag);
        const json = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
        const payload = JSON.parse(json) as Payload;
        if (typeof payload !== 'object' || payload === null || typeof payload.c !== 'number' || typeof payload.l !== 'number') return undefined;
        return { payload, current: candidate === sealKey };
      } catch {
        // Intentionally ignored: a failed tag check with one key may succeed with the next.
      }
    }
    return undefined;
  }

  function commitSync(session: Session): SetCookie | undefined {
    const s = sessionState(session);
    const rotated = s.retiredIds.splice(0).length > 0;
    const t = settings.now();
    const hasContent = s.userId !== undefined || Object.keys(s.data).length > 0;
    if (!hasContent) {
      const hadCookie = s.id !== undefined || rotated || s.rejectedCookie;
      s.id = undefined;
      s.modified = false;
      s.rejectedCookie = false;
      return hadCookie ? sessionCookie(settings, '', 0) : undefined;
    }
    const fresh = s.id === undefined;
    // A cookie opened with an old key is re-sealed with the current one on its next response, so
    // dropping the old key later logs nobody out who came back in the meantime.
    if (!fresh && !s.modified && !openedWithOldKey.has(session) && t - (s.lastSeenAt ?? 0) < settings.touchIntervalMs) return undefined;
    openedWithOldKey.delete(session);
    const createdAt = fresh ? t : (s.createdAt ?? t);
    const payload: Payload = { d: { ...s.data }, c: createdAt, l: t };
    if (s.userId !== undefined) payload.u = s.userId;
    const maxAgeSec = session.remembered ? Math.max(1, Math.ceil((createdAt + settings.absoluteTimeoutMs - t) / 1000)) : undefined;
    const cookie = sessionCookie(settings, seal(payload), maxAgeSec);
    const size = Buffer.byteLength(cookie.name) + 1 + cookie.value.length;
    if (size > maxCookieBytes) {
      throw new VialError(
        'VIAL_ERR_SESSION_COOKIE_TOO_LARGE',
        `The sealed session cookie would be ${size} bytes, over the ${maxCookieBytes}-byte limit browsers guarantee. ` +
          'Keep less in the session (ids, not objects) or use a server-side store (sqlite, redis).',
        { status: 500, expose: false },
      );
    }
    s.id = 'cookie';
    s.createdAt = createdAt;
    s.lastSeenAt = t;
    s.modified = false;
    s.rejectedCookie = false;
    return cookie;
  }

  return {
    cookieName: settings.cookieName,

    load(cookieValue, duplicated) {
      if (duplicated) {
        reportRejection('duplicated');
        return Promise.resolve(new Session({ rejectedCookie: true }));
      }
      if (cookieValue === undefined) return Promise.resolve(new Session());
      const opened = open(cookieValue);
      if (opened === undefined) {
        reportRejection('tampered');
        return Promise.resolve(new Session({ rejectedCookie: true }));
      }
      const { payload } = opened;
      const t = settings.now();
      const expired =
        t - payload.c >= settings.absoluteTimeoutMs ? 'absolute-timeout' : t - payload.l >= settings.idleTimeoutMs ? 'idle-timeout' : undefined;
      if (expired !== undefined) {
        reportRejection(expired);
        return Promise.resolve(new Session({ rejectedCookie: true }));
      }
      const session = new Session({
        // Not an id: marks the session as loaded, so isNew is false and rotation resets createdAt.
        id: 'cookie',
        data: payload.d,
        ...(typeof payload.u === 'string' ? { userId: payload.u } : {}),
        createdAt: payload.c,
        lastSeenAt: payload.l,
      });
      if (!opened.current) openedWithOldKey.add(session);
      return Promise.resolve(session);
    },

    commit(session) {
      try {
        return Promise.resolve(commitSync(session));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },

    destroyAllForUser() {
      return Promise.reject(
        new ConfigError(
          'VIAL_ERR_SESSION_UNSUPPORTED',
          'Cookie sessions live only in the browser and cannot be ended on the server before they expire. ' +
            'Rotate the secret to end all of them, or use a server-side store (sqlite, redis).',
        ),
      );
    },

    close() {
      return Promise.resolve();
    },
  };
}
