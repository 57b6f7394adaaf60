/**
 * Turning handler return values into responses, the response helpers (`json`, `redirect`,
 * `sendFile`, `sse`), and writing a response to Node's ServerResponse with backpressure.
 */
import { contentTypeFor } from './static/mime.ts';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { BadRequestError, ConfigError, HttpError } from './errors.ts';
import { SafeHtml } from './html.ts';
import { writeHeadChecked } from './internal/header-error.ts';

export type Body = string | Uint8Array | AsyncIterable<string | Uint8Array> | null;
export type HeaderMap = Record<string, string | string[]>;

/** A response on its way out. After hooks may change any field. */
export class VialResponse {
  status: number;
  /** Lower-case names. `set-cookie` may be an array. */
  headers: HeaderMap;
  body: Body;

  constructor(body: Body = null, status = 200, headers: HeaderMap = {}) {
    this.body = body;
    this.status = status;
    this.headers = headers;
  }

  header(name: string, value: string): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  /** Adds a Set-Cookie header without replacing earlier ones. */
  appendHeader(name: string, value: string): this {
    const key = name.toLowerCase();
    const existing = this.headers[key];
    if (existing === undefined) this.headers[key] = value;
    else this.headers[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
    return this;
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';

export function json(value: unknown, init: { status?: number; headers?: HeaderMap } = {}): VialResponse {
  return new VialResponse(JSON.stringify(value), init.status ?? 200, { 'content-type': JSON_TYPE, ...init.headers });
}

export interface RedirectOptions {
  status?: 301 | 302 | 303 | 307 | 308;
  /** Allow an absolute URL to another origin. Off by default: open redirects are a phishing tool. */
  allowExternal?: boolean;
}

/**
 * Redirects to a same-origin relative path by default. `//evil.com`, `/\evil.com`, absolute URLs and
 * anything with CR/LF are refused (400) unless `allowExternal` is set, so a `?next=` parameter
 * passed straight through cannot send users elsewhere.
 */
export function redirect(location: string, options: RedirectOptions | RedirectOptions['status'] = {}): VialResponse {
  const opts = typeof options === 'number' ? { status: options } : options;
  if (/[\r\n\0]/.test(location)) {
    throw new BadRequestError('VIAL_ERR_OPEN_REDIRECT', 'The redirect target contains control characters.');
  }
  const sameOrigin = location.startsWith('/') && !location.startsWith('//') && !location.startsWith('/\\');
  if (!sameOrigin && opts.allowExternal !== true) {
    throw new BadRequestError(
      'VIAL_ERR_OPEN_REDIRECT',
      'Refusing to redirect outside this site. Redirect to a path starting with "/", or pass { allowExternal: true } for a URL you trust.',
    );
  }
  return new VialResponse(null, opts.status ?? 302, { location: encodeURI(decodeURISafe(location)) });
}

function decodeURISafe(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text;
  }
}


/**
 * Serves a file from inside `root`. The path is resolved against root and refused (404) when it
 * lands outside it, whatever encoding the traversal used (the router already decoded it once).
 */
export async function sendFile(path: string, options: { root: string; maxAgeSec?: number; contentType?: string }): Promise<VialResponse> {
  if (!isAbsolute(options.root)) throw new ConfigError('VIAL_ERR_SEND_FILE', 'sendFile needs an absolute `root` directory.');
  const root = resolve(options.root);
  if (path.includes('\0') || path.includes('\\')) throw new HttpError(404);
  const full = resolve(root, `.${sep}${path}`);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new HttpError(404);
  let info;
  try {
    info = await stat(full);
  } catch {
    throw new HttpError(404);
  }
  if (!info.isFile()) throw new HttpError(404);
  const headers: HeaderMap = {
    'content-type': options.contentType ?? contentTypeFor(full),
    'content-length': String(info.size),
    'last-modified': info.mtime.toUTCString(),
    'cache-control': `public, max-age=${options.maxAgeSec ?? 0}`,
  };
  return new VialResponse(createReadStream(full), 200, headers);
}

export interface ServerSentEvent {
  data: unknown;
  event?: string;
  id?: string;
}

/**
 * Server-sent events from an async iterable. Strings are sent as-is, other values as JSON.
 * Stops when the client leaves (the iterable's `return()` is called, so generators can clean up).
 */
export function sse(source: AsyncIterable<ServerSentEvent | string>, options: { retryMs?: number } = {}): VialResponse {
  async function* frames(): AsyncGenerator<string> {
    if (options.retryMs !== undefined) yield `retry: ${options.retryMs}\n\n`;
    for await (const item of source) {
      const event = typeof item === 'string' ? { data: item } : item;
      let frame = '';
      if (event.event !== undefined) frame += `event: ${oneLine(event.event)}\n`;
      if (event.id !== undefined) frame += `id: ${oneLine(event.id)}\n`;
      const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
      for (const line of data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
      yield `${frame}\n`;
    }
  }
  return new VialResponse(frames(), 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, ' ');
}

function isAsyncIterable(value: object): value is AsyncIterable<string | Uint8Array> {
  return Symbol.asyncIterator in value;
}

/** Normalises whatever a handler returned into a VialResponse. */
export function toResponse(reply: unknown): VialResponse {
  if (reply instanceof VialResponse) return reply;
  if (typeof reply === 'string') return new VialResponse(reply, 200, { 'content-type': HTML_TYPE });
  if (reply === null || reply === undefined) return new VialResponse(null, 204);
  if (reply instanceof SafeHtml) return new VialResponse(reply.value, 200, { 'content-type': HTML_TYPE });
  if (reply instanceof Uint8Array) return new VialResponse(reply, 200, { 'content-type': 'application/octet-stream' });
  if (reply instanceof Response) return fromFetchResponse(reply);
  if (typeof reply === 'object') {
    if (isAsyncIterable(reply)) return new VialResponse(reply, 200, { 'content-type': 'application/octet-stream' });
    return new VialResponse(JSON.stringify(reply), 200, { 'content-type': JSON_TYPE });
  }
  if (typeof reply === 'number' || typeof reply === 'boolean') {
    return new VialResponse(JSON.stringify(reply), 200, { 'content-type': JSON_TYPE });
  }
  throw new TypeError(`A handler returned a ${typeof reply}; return a string, an object, a Response or null.`);
}

function fromFetchResponse(reply: Response): VialResponse {
  const headers: HeaderMap = {};
  reply.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = reply.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = reply.body === null ? null : Readable.fromWeb(reply.body as import('node:stream/web').ReadableStream<Uint8Array>);
  return new VialResponse(body, reply.status, headers);
}

/**
 * The two commonest replies, a string (HTML) or a plain object or array (JSON), written without a
 * VialResponse: `heads` holds each one's complete header list but content-length, built once per
 * app. Returns false (writing nothing) for any other reply, which then takes the general path.
 * May throw what JSON.stringify throws (a BigInt, a cycle) before anything is written.
 */
export interface PlainHeads {
  readonly html: readonly string[];
  readonly json: readonly string[];
}

export function buildPlainHeads(security: readonly (readonly [string, string])[], dataSecurity: readonly (readonly [string, string])[]): PlainHeads {
  // Not frozen on purpose: V8 copies a frozen array with slice() ~13x slower than a plain one.
  return Object.freeze({
    html: ['content-type', HTML_TYPE, ...security.flat()],
    json: ['content-type', JSON_TYPE, ...dataSecurity.flat()],
  });
}

export function writePlainReply(res: ServerResponse, reply: unknown, heads: PlainHeads, requestId: string | undefined, headOnly: boolean, belowBytes = Infinity): boolean | VialResponse {
  let body: string;
  let head: readonly string[];
  let type: string;
  if (typeof reply === 'string') {
    body = reply;
    head = heads.html;
    type = HTML_TYPE;
  } else if (typeof reply === 'object' && reply !== null && (Object.getPrototypeOf(reply) === Object.prototype || Array.isArray(reply))) {
    body = JSON.stringify(reply);
    head = heads.json;
    type = JSON_TYPE;
  } else {
    return false;
  }
  // Checked on the string's length first: UTF-8 takes at least one byte per UTF-16 unit.
  const bytes = body.length >= belowBytes ? belowBytes : Buffer.byteLength(body);
  // Large enough for a plugin's onResponse hook (compression, ETags): handed back serialized.
  if (bytes >= belowBytes) return new VialResponse(body, 200, { 'content-type': type });
  // One exact-size copy: slice() then push() grew the copy's backing store (~170 B more per request).
  const full = requestId === undefined ? head.concat('content-length', String(bytes)) : head.concat('x-request-id', requestId, 'content-length', String(bytes));
  res.writeHead(200, full);
  if (headOnly) res.end();
  else res.end(body);
  return true;
}

/** A response head as Node's writeHead takes it fastest: a flat [name, value, name, value, ...] list. */
export type HeaderList = Array<string | string[]>;

/**
 * Writes a response. `head` is the complete header list (the dispatcher merges the response's own
 * headers, the security headers and the request id into it); `content-length` is added here for
 * string and byte bodies. Streams honour backpressure and stop when the client leaves or `signal`
 * aborts. Returns undefined when the write finished synchronously (the common case), else a
 * promise that settles when the stream is done.
 */
export function writeResponse(res: ServerResponse, response: VialResponse, head: HeaderList, headOnly: boolean, signal: AbortSignal | undefined): Promise<void> | undefined {
  const body = response.body;
  if (body === null || typeof body === 'string' || body instanceof Uint8Array) {
    // Synchronous on purpose: the common case costs no promise.
    if (body !== null && response.headers['content-length'] === undefined) {
      head.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
    }
    writeHeadChecked(res, response.status, head);
    if (headOnly || body === null) res.end();
    else res.end(body);
    return undefined;
  }
  return writeStream(res, response.status, head, body, headOnly, signal);
}

async function writeStream(
  res: ServerResponse,
  status: number,
  head: HeaderList,
  body: AsyncIterable<string | Uint8Array>,
  headOnly: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  writeHeadChecked(res, status, head);
  if (headOnly) {
    res.end();
    destroyBody(body);
    return;
  }
  const iterator = body[Symbol.asyncIterator]();
  try {
    while (!res.destroyed && signal?.aborted !== true) {
      const next = await iterator.next();
      if (next.done === true) {
        res.end();
        return;
      }
      // A write after the client left returns false and never drains, and 'close' has already
      // fired: waiting for either would hang here forever, so check `destroyed` first.
      if (!res.write(next.value) && !res.destroyed) {
        await Promise.race([once(res, 'drain'), once(res, 'close')]);
      }
    }
    // The client left or the deadline passed: let the source clean up (generators run `finally`).
    await iterator.return?.();
    res.destroy();
  } catch (error) {
    // Headers are out, so the only honest signal of a broken stream is a broken connection.
    res.destroy();
    throw error;
  }
}

function destroyBody(body: AsyncIterable<unknown>): void {
  if (body instanceof Readable) body.destroy();
}
