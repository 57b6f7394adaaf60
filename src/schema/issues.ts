/**
 * Validation issues in one shape, whatever library found them: where (`in`, `path`, a JSON Pointer)
 * and what (`message`). Pure.
 *
 * A message never carries the value it is about. Some libraries quote the input ("Invalid email:
 * Received \"hunter2\""); a password, a token or an `authorization` header must not come back in
 * a 422 body or land in a shared log, so each message is scrubbed of the value found at its path.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';

/** The parts of a request a route schema can describe, plus the response (checked in development). */
export type SchemaPart = 'params' | 'query' | 'headers' | 'body' | 'response';

export interface ValidationIssue {
  /** Which part of the request failed. */
  readonly in: SchemaPart;
  /** Keys from the part's root to the value, e.g. `['items', 0, 'qty']`. */
  readonly path: readonly (string | number)[];
  /** The same place as a JSON Pointer in URI-fragment form (`#/items/0/qty`), as RFC 9457's examples write it. */
  readonly pointer: string;
  readonly message: string;
}

/** Stops one hostile body with a thousand bad fields from producing a megabyte of problem details. */
export const MAX_REPORTED_ISSUES = 50;

export const REDACTED = '[redacted]';

export function pointerOf(path: readonly (string | number)[]): string {
  // RFC 6901: "~" and "/" in a key are escaped; then percent-encoding for the URI fragment form.
  return `#${path.map((key) => `/${encodeURIComponent(String(key).replaceAll('~', '~0').replaceAll('/', '~1'))}`).join('')}`;
}

export function issue(part: SchemaPart, path: readonly (string | number)[], message: string, input: unknown): ValidationIssue {
  return { in: part, path, pointer: pointerOf(path), message: redact(message, valueAt(input, path)) };
}

/** A Standard Schema path segment is a key or `{ key }`; symbols cannot reach JSON and are named. */
export function standardPath(path: StandardSchemaV1.Issue['path']): (string | number)[] {
  if (path === undefined) return [];
  return path.map((segment) => {
    const key = typeof segment === 'object' ? segment.key : segment;
    return typeof key === 'symbol' ? String(key) : key;
  });
}

/** Ajv's instancePath (`/items/0/qty`) plus the property a `required` or `additionalProperties` error names. */
export function ajvPath(instancePath: string, params: Record<string, unknown>): (string | number)[] {
  const path: (string | number)[] = instancePath === ''
    ? []
    : instancePath.slice(1).split('/').map((s) => {
        const key = s.replaceAll('~1', '/').replaceAll('~0', '~');
        return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
      });
  const extra = params['missingProperty'] ?? params['additionalProperty'] ?? params['propertyName'];
  if (typeof extra === 'string') path.push(extra);
  return path;
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

/**
 * Replaces the value wherever the message quotes it, as a whole token (so the value `a` does not
 * eat the `a` of "Invalid"). Strings shorter than 3 characters are left alone: too short to be a
 * secret, and too likely to collide with the words of the message itself.
 */
export function redact(message: string, value: unknown): string {
  const texts: string[] = [];
  if (typeof value === 'string' && value.length >= 3) texts.push(JSON.stringify(value), value);
  else if (typeof value === 'number' && String(value).length >= 3) texts.push(String(value));
  else if (Array.isArray(value)) {
    for (const item of value) if (typeof item === 'string' && item.length >= 3) texts.push(JSON.stringify(item), item);
  }
  let out = message;
  for (const text of texts) {
    const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(?<![\\w])${escaped}(?![\\w])`, 'g'), REDACTED);
  }
  return out;
}
