/**
 * HTTP validators and conditional requests (RFC 9110 §8.8, §13): ETags, the precondition order of
 * §13.2.2, and single byte ranges (§14). Used by static files (strong ETags, ranges) and by the
 * conditional plugin (weak ETags for buffered replies).
 *
 * Pure module: no I/O, no request context.
 */
import { hash } from 'node:crypto';

export interface Validators {
  /** Quoted, with `W/` when weak. */
  readonly etag?: string | undefined;
  /** Whole seconds are all HTTP dates carry. */
  readonly lastModified?: Date | undefined;
}

export type ConditionalHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A weak ETag over a buffered body: its length and a SHA-1 of its bytes (fast, and collisions need intent). */
export function weakEtag(body: string | Uint8Array): string {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  return `W/"${length.toString(16)}-${hash('sha1', body, 'base64url').slice(0, 22)}"`;
}

/** A strong ETag for a file: size and modification time (what nginx sends), plus the encoding of a precompressed variant. */
export function fileEtag(size: number, mtimeMs: number, encoding?: string): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}${encoding === undefined ? '' : `-${encoding}`}"`;
}

function header(headers: ConditionalHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The entity tags of an If-Match / If-None-Match list, or `['*']`. */
export function parseEtagList(value: string): string[] {
  if (value.trim() === '*') return ['*'];
  return value.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);
const strongMatch = (a: string, b: string): boolean => !a.startsWith('W/') && !b.startsWith('W/') && a === b;
const weakMatch = (a: string, b: string): boolean => opaque(a) === opaque(b);

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
const seconds = (date: Date): number => Math.floor(date.getTime() / 1000) * 1000;

export type Precondition = 'ok' | 304 | 412;

/**
 * RFC 9110 §13.2.2, in its order: If-Match (strong comparison), else If-Unmodified-Since, give 412;
 * then If-None-Match (weak comparison) gives 304 for GET/HEAD and 412 otherwise; else
 * If-Modified-Since gives 304 for GET/HEAD. A date that does not parse is ignored, as the RFC says.
 */
export function evaluatePreconditions(method: string, headers: ConditionalHeaders, v: Validators, exists = true): Precondition {
  const safe = method === 'GET' || method === 'HEAD';
  const ifMatch = header(headers, 'if-match');
  if (ifMatch !== undefined) {
    const tags = parseEtagList(ifMatch);
    const ok = tags[0] === '*' ? exists : v.etag !== undefined && tags.some((tag) => strongMatch(tag, v.etag as string));
    if (!ok) return 412;
  } else {
    const since = parseDate(header(headers, 'if-unmodified-since'));
    if (since !== undefined && v.lastModified !== undefined && seconds(v.lastModified) > since) return 412;
  }
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifNoneMatch !== undefined) {
    const tags = parseEtagList(ifNoneMatch);
    const matched = tags[0] === '*' ? exists : v.etag !== undefined && tags.some((tag) => weakMatch(tag, v.etag as string));
    if (matched) return safe ? 304 : 412;
    return 'ok';
  }
  if (safe) {
    const since = parseDate(header(headers, 'if-modified-since'));
    if (since !== undefined && v.lastModified !== undefined && seconds(v.lastModified) <= since) return 304;
  }
  return 'ok';
}

export type RangeResult = { readonly start: number; readonly end: number } | 'unsatisfiable' | undefined;

/**
 * One `bytes=` range of a representation of `size` bytes (RFC 9110 §14.1.2), or undefined to send
 * the whole (no Range, another unit, a malformed one, or several ranges: multipart/byteranges is
 * intentionally not offered, since a list of many small overlapping ranges is an amplification tool).
 */
export function parseRange(value: string | undefined, size: number): RangeResult {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** If-Range (§13.1.5): the Range applies only while the representation is the one the client has. */
export function rangeStillValid(headers: ConditionalHeaders, v: Validators): boolean {
  const ifRange = header(headers, 'if-range');
  if (ifRange === undefined) return true;
  const tag = ifRange.trim();
  if (tag.startsWith('"') || tag.startsWith('W/')) return v.etag !== undefined && strongMatch(tag, v.etag);
  const date = parseDate(tag);
  return date !== undefined && v.lastModified !== undefined && seconds(v.lastModified) === date;
}
