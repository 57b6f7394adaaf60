/**
 * The one home of vial's error responses: which fields a client may see, the JSON body
 * `{"error":{status,code,message,requestId}}`, the HTML page, content negotiation between them, and
 * the raw HTTP/1.1 form for answers written straight to a socket (parser errors), and the 503
 * refusals built once per reason (RefusalCache): admission's sheds and the one closing response,
 * which the dispatcher and the shutdown tracker (process/shutdown.ts) both write from here.
 * Dispatch, refusals, client errors, the shutdown 503 and the admin listener all build from here.
 * Pure: strings in, strings out (the refusal cache only remembers what it built).
 */
import { ClientGoneError, VialError, statusText } from './errors.ts';
import type { VialErrorCode } from './error-codes.ts';
import { escapeHtml } from './html.ts';

/** What a client is shown about an error. */
export interface PublicError {
  readonly status: number;
  readonly code: VialErrorCode;
  readonly message: string;
}

/** HTML only when the client asks for it before JSON (browsers do); JSON for APIs and curl. */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const html = accept.indexOf('text/html');
  if (html === -1) return false;
  const jsonAt = accept.indexOf('application/json');
  return jsonAt === -1 || html < jsonAt;
}

/**
 * The fields a client may see: an exposed VialError as it is, anything else as its status and the
 * status text, so internal messages (a database error, Node's own text) never leave the process.
 */
export function publicFields(error: unknown): PublicError {
  const known = error instanceof VialError;
  const status = known ? error.status : 500;
  if (known && error.expose) return { status, code: error.code, message: error.message };
  return { status, code: status >= 500 ? 'VIAL_ERR_INTERNAL' : `VIAL_ERR_HTTP_${status}`, message: statusText(status) };
}

/** Whether an error belongs in the error log: anything not exposed, except a client that left. */
export function isUnexpected(error: unknown): boolean {
  return !(error instanceof VialError && error.expose) && !(error instanceof ClientGoneError);
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const HTML_TYPE = 'text/html; charset=utf-8';

/**
 * The body split around the request id, for answers built once and sent many times (refusals under
 * overload): `before + id + after` is the same body `errorBody` makes.
 */
export interface SplitBody {
  readonly before: string;
  readonly after: string;
  readonly contentType: string;
}

export function splitErrorBody(fields: PublicError, html: boolean): SplitBody {
  const { status, code, message } = fields;
  if (html) {
    const title = `${status} ${escapeHtml(statusText(status))}`;
    return {
      before: `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${escapeHtml(message)}</p><p><small>Request id: `,
      after: '</small></p></body></html>',
      contentType: HTML_TYPE,
    };
  }
  return { before: `{"error":{"status":${status},"code":${JSON.stringify(code)},"message":${JSON.stringify(message)},"requestId":`, after: '}}', contentType: JSON_TYPE };
}

/** Joins a split body with a request id, escaped for its format. */
export function completeBody(split: SplitBody, requestId: string): string {
  return split.contentType === HTML_TYPE ? `${split.before}${escapeHtml(requestId)}${split.after}` : `${split.before}${JSON.stringify(requestId)}${split.after}`;
}

export function errorBody(fields: PublicError, requestId: string, html: boolean): { readonly body: string; readonly contentType: string } {
  const split = splitErrorBody(fields, html);
  return { body: completeBody(split, requestId), contentType: split.contentType };
}

/**
 * A whole HTTP/1.1 error response for a socket no ServerResponse owns (Node's parser refused the
 * request): JSON, the given header lines (`name: value\r\n` each, the security headers among
 * them), the request id, and `Connection: close`.
 */
export function rawErrorResponse(fields: PublicError, requestId: string, headerLines: string, extraHeaders: Readonly<Record<string, string>> = {}): string {
  const { body, contentType } = errorBody(fields, requestId, false);
  let extra = '';
  for (const name in extraHeaders) extra += `${name}: ${extraHeaders[name] as string}\r\n`;
  return (
    `HTTP/1.1 ${fields.status} ${statusText(fields.status)}\r\n` +
    `content-type: ${contentType}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    extra +
    headerLines +
    `x-request-id: ${requestId}\r\n` +
    'connection: close\r\n\r\n' +
    body
  );
}

/**
 * What a refusal is keyed by: its reason and Retry-After. Structural on purpose, so this leaf module
 * needs nothing from load/ (admission's `Refusal` is one).
 */
export interface RefusalKey {
  readonly reason: string;
  readonly retryAfterSec: number;
}

/** The heads a refusal starts from: content type and the app's security headers, per format. */
export interface RefusalHeads {
  readonly json: readonly string[];
  readonly html: readonly string[];
}

/**
 * How a refusal written outside the dispatcher (the shutdown tracker's 503) looks like the app's
 * own: its heads for both formats, and whether it names its request id (`log.requestIdHeader`).
 */
export interface RefusalStyle {
  readonly heads: RefusalHeads;
  readonly requestId: boolean;
}

/** What a 503 refusal is written from: its error (for subscribers), both bodies split, both heads. */
export interface RefusalParts {
  readonly error: VialError;
  readonly json: SplitBody;
  readonly html: SplitBody;
  readonly jsonHead: readonly string[];
  readonly htmlHead: readonly string[];
}

/**
 * The one closing response, whoever writes it: admission's `closing` refusal in the dispatcher and
 * the shutdown tracker's answer to a reused connection both say this, with `Connection: close`
 * (RFC 9112 §9.6) so the client's next attempt opens a connection to a server that is not leaving.
 */
function closingMessage(retryAfterSec: number): string {
  return `This server is shutting down (closing); retry on a new connection after ${retryAfterSec} s.`;
}

/**
 * Refusal parts, one entry per reason and Retry-After value. Under overload refusals can outnumber
 * successes 2:1 and every microsecond one costs is taken from the admitted requests, so a refusal
 * is written from parts built once: no Error per refusal (its stack capture alone cost more than
 * the rest), no context scope, no error handler.
 */
export class RefusalCache {
  readonly #parts = new Map<string, RefusalParts>();
  readonly #heads: RefusalHeads;

  constructor(heads: RefusalHeads) {
    this.#heads = heads;
  }

  get(refusal: RefusalKey): RefusalParts {
    const key = `${refusal.reason}:${refusal.retryAfterSec}`;
    let parts = this.#parts.get(key);
    if (parts !== undefined) return parts;
    const closing = refusal.reason === 'closing';
    const message = closing ? closingMessage(refusal.retryAfterSec) : `The server is at capacity (${refusal.reason}); retry after ${refusal.retryAfterSec} s.`;
    const extra = closing ? ['retry-after', String(refusal.retryAfterSec), 'connection', 'close'] : ['retry-after', String(refusal.retryAfterSec)];
    const headers: Record<string, string> = {};
    for (let i = 0; i < extra.length; i += 2) headers[extra[i] as string] = extra[i + 1] as string;
    const error = stackless(() => new VialError('VIAL_ERR_OVERLOADED', message, { status: 503, expose: true, headers }));
    const fields = publicFields(error);
    parts = {
      error,
      json: splitErrorBody(fields, false),
      html: splitErrorBody(fields, true),
      jsonHead: [...this.#heads.json, ...extra],
      htmlHead: [...this.#heads.html, ...extra],
    };
    // Route-blocking refusals carry the remaining penalty in Retry-After: bound the cache anyway.
    if (this.#parts.size < 64) this.#parts.set(key, parts);
    return parts;
  }

  /** The body and head (without request id and content-length) of a refusal for this request. */
  render(parts: RefusalParts, requestId: string, accept: string | undefined): { readonly body: string; readonly head: string[] } {
    const html = prefersHtml(accept);
    return { body: completeBody(html ? parts.html : parts.json, requestId), head: (html ? parts.htmlHead : parts.jsonHead).slice() };
  }
}

/**
 * For errors kept for the life of the process: an unformatted V8 stack holds the receivers of its
 * frames, so an error created while dispatching would keep that request's objects alive for good
 * (test/app-memory.test.ts caught it). Its stack says nothing useful anyway.
 */
function stackless<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
