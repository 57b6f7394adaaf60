/**
 * Cookie header parsing and Set-Cookie serialization.
 *
 * Pure module: no I/O, no timers, no request context.
 *
 * Parsing is lenient in what it skips and strict in what it trusts: it never throws, drops
 * malformed pairs, keeps the first occurrence of a name (RFC 6265 §5.4: user agents send the
 * cookie with the longest path first, so the first one is the most specific) and reports names
 * that occurred more than once, so the session layer can treat a duplicated session cookie as
 * anonymous (a sibling subdomain can plant a second cookie with the same name: "cookie tossing").
 * Serialization is strict: anything that could split or extend the header is refused.
 */

import { VialError } from '../errors.ts';

export interface CookieParseLimits {
  /** Bytes of the Cookie header that are looked at; the rest is ignored. */
  readonly maxHeaderBytes: number;
  /** Pairs kept; later pairs are ignored. */
  readonly maxCount: number;
}

/** Browsers send at most ~4 KiB per cookie and cap the header well under 16 KiB. */
export const DEFAULT_COOKIE_PARSE_LIMITS: CookieParseLimits = Object.freeze({ maxHeaderBytes: 16_384, maxCount: 100 });

export interface ParsedCookies {
  /** First value seen for each name. */
  readonly values: ReadonlyMap<string, string>;
  /** Names that appeared more than once. */
  readonly duplicates: ReadonlySet<string>;
  /** True when the header went over `maxHeaderBytes` or `maxCount` and the rest was ignored. */
  readonly truncated: boolean;
}

// RFC 9110 §5.6.2 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 6265 §4.1.1 cookie-octet: no CTLs, whitespace, DQUOTE, comma, semicolon or backslash.
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
// Attribute values (Path, Domain) must not contain CTLs or ';' (RFC 6265 §4.1.1 av-octet).
const ATTRIBUTE_VALUE = /^[\x20-\x3A\x3C-\x7E]+$/;

/**
 * Parses a Cookie header. Node joins repeated Cookie headers with "; " (http.IncomingMessage
 * headers docs), so a string is the usual input; an array is accepted for raw header lists.
 */
export function parseCookieHeader(
  header: string | readonly string[] | undefined,
  limits: CookieParseLimits = DEFAULT_COOKIE_PARSE_LIMITS,
): ParsedCookies {
  const values = new Map<string, string>();
  const duplicates = new Set<string>();
  if (header === undefined) return { values, duplicates, truncated: false };
  let text = typeof header === 'string' ? header : header.join('; ');
  let truncated = false;
  if (text.length > limits.maxHeaderBytes) {
    truncated = true;
    // Cut at the last separator inside the limit so no pair is read half-way.
    const cut = text.lastIndexOf(';', limits.maxHeaderBytes);
    text = cut === -1 ? '' : text.slice(0, cut);
  }
  let count = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end === -1) end = text.length;
    const pair = text.slice(start, end);
    start = end + 1;
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!TOKEN.test(name) || !COOKIE_VALUE.test(value)) continue;
    if (values.has(name)) {
      duplicates.add(name);
      continue;
    }
    if (count >= limits.maxCount) {
      truncated = true;
      break;
    }
    values.set(name, value);
    count++;
  }
  return { values, duplicates, truncated };
}

/** The one cookie the session layer needs, plus whether it was sent more than once. */
export function readCookie(
  header: string | readonly string[] | undefined,
  name: string,
  limits: CookieParseLimits = DEFAULT_COOKIE_PARSE_LIMITS,
): { value: string | undefined; duplicated: boolean } {
  if (header === undefined) return { value: undefined, duplicated: false };
  const parsed = parseCookieHeader(header, limits);
  return { value: parsed.values.get(name), duplicated: parsed.duplicates.has(name) };
}

export interface CookieAttributes {
  readonly maxAgeSec?: number;
  readonly expires?: Date;
  readonly path?: string;
  readonly domain?: string;
  readonly secure?: boolean;
  readonly httpOnly?: boolean;
  readonly sameSite?: 'Strict' | 'Lax' | 'None';
  readonly partitioned?: boolean;
}

function invalid(message: string): VialError {
  return new VialError('VIAL_ERR_COOKIE_INVALID', message, { status: 500, expose: false });
}

/**
 * Builds a Set-Cookie header value. Throws VialError `VIAL_ERR_COOKIE_INVALID` for a name that is
 * not a token, a value outside cookie-octet (CR, LF, ';', ',', space, quotes...), bad attributes,
 * or a `__Host-` / `__Secure-` name without the attributes its prefix requires
 * (draft-ietf-httpbis-rfc6265bis §4.1.3).
 */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes = {}): string {
  if (!TOKEN.test(name)) {
    throw invalid(`Cookie name ${JSON.stringify(name)} is not a valid token. Use letters, digits and -_. only.`);
  }
  if (!COOKIE_VALUE.test(value)) {
    throw invalid(
      `Cookie ${name} has a value with characters a cookie cannot carry (CR, LF, ';', ',', space, quote or backslash). ` +
        'Encode the value first, e.g. with encodeURIComponent or base64url.',
    );
  }
  const a = attributes;
  if (name.startsWith('__Host-') && (a.secure !== true || a.path !== '/' || a.domain !== undefined)) {
    throw invalid(`Cookie ${name} uses the __Host- prefix, which requires Secure, Path=/ and no Domain. Set those or rename the cookie.`);
  }
  if (name.startsWith('__Secure-') && a.secure !== true) {
    throw invalid(`Cookie ${name} uses the __Secure- prefix, which requires Secure.`);
  }
  if (a.sameSite === 'None' && a.secure !== true) {
    throw invalid(`Cookie ${name} has SameSite=None without Secure; browsers reject it. Add Secure or use SameSite=Lax.`);
  }
  if (a.partitioned === true && a.secure !== true) {
    throw invalid(`Cookie ${name} is Partitioned without Secure; browsers reject it. Add Secure.`);
  }
  let out = `${name}=${value}`;
  if (a.maxAgeSec !== undefined) {
    if (!Number.isSafeInteger(a.maxAgeSec)) throw invalid(`Cookie ${name}: maxAgeSec must be an integer, got ${a.maxAgeSec}.`);
    out += `; Max-Age=${a.maxAgeSec}`;
  }
  if (a.expires !== undefined) {
    if (Number.isNaN(a.expires.getTime())) throw invalid(`Cookie ${name}: expires is an invalid Date.`);
    out += `; Expires=${a.expires.toUTCString()}`;
  }
  if (a.domain !== undefined) {
    if (!ATTRIBUTE_VALUE.test(a.domain)) throw invalid(`Cookie ${name}: domain ${JSON.stringify(a.domain)} contains ';' or control characters.`);
    out += `; Domain=${a.domain}`;
  }
  if (a.path !== undefined) {
    if (!ATTRIBUTE_VALUE.test(a.path)) throw invalid(`Cookie ${name}: path ${JSON.stringify(a.path)} contains ';' or control characters.`);
    out += `; Path=${a.path}`;
  }
  if (a.secure === true) out += '; Secure';
  if (a.httpOnly === true) out += '; HttpOnly';
  if (a.sameSite !== undefined) out += `; SameSite=${a.sameSite}`;
  if (a.partitioned === true) out += '; Partitioned';
  return out;
}
