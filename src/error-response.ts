/**
 * The one home of vial's error responses: which fields a client may see, the JSON body
 * `{"error":{status,code,message,requestId}}`, the HTML page, content negotiation between them, and
 * the raw HTTP/1.1 form for answers written straight to a socket (parser errors, shutdown).
 * Dispatch, refusals, client errors, the shutdown 503 and the admin listener all build from here.
 * Pure: strings in, strings out.
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
 * request, or the server is closing): JSON, the given header lines (`name: value\r\n` each, the
 * security headers among them), the request id, and `Connection: close`.
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
