/**
 * The request wrapper: method, path, query, headers, cookies, params, and lazy body readers with
 * byte and part limits. Bodies are read at most once; `json()` after `text()` reuses the bytes.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { BadRequestError } from './errors.ts';
import { countEntries, decodeUtf8, FormBody, parseJson, readBody, readMultipart } from './request-body.ts';
import type { Limits } from './request-body.ts';
import { parseCookieHeader } from './security/cookies.ts';
import type { Edge } from './security/edge.ts';
import type { EdgeView } from './security/proxy.ts';

export { FormBody } from './request-body.ts';
export type { UploadedFile } from './request-body.ts';

const EMPTY_PARAMS: Record<string, unknown> = Object.freeze(Object.create(null) as Record<string, unknown>);

export class VialRequest {
  readonly raw: IncomingMessage;
  readonly method: string;
  /** The path, percent-encoded as sent, without the query string. */
  readonly path: string;
  params: Record<string, unknown> = EMPTY_PARAMS;
  readonly #search: string;
  #query: URLSearchParams | undefined;
  #cookies: Record<string, string> | undefined;
  #duplicateCookies: ReadonlySet<string> | undefined;
  #body: Promise<Buffer> | undefined;
  #form: Promise<FormBody> | undefined;
  /** Byte limit for this request's body; the dispatcher lowers or raises it per route. */
  maxBodyBytes: number;
  readonly #limits: Limits;
  readonly #edge: Edge | undefined;
  #view: EdgeView | undefined;

  constructor(raw: IncomingMessage, path: string, search: string, limits: Limits, edge?: Edge) {
    this.raw = raw;
    this.#edge = edge;
    this.method = raw.method ?? 'GET';
    this.path = path;
    this.#search = search;
    this.#limits = limits;
    this.maxBodyBytes = limits.maxBytes;
  }

  get headers(): IncomingHttpHeaders {
    return this.raw.headers;
  }

  /** One header's value (the first, for repeated headers), or undefined. Name is case-insensitive. */
  header(name: string): string | undefined {
    const value = this.raw.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.#search);
    return this.#query;
  }

  /** The full request target as sent (path and query). */
  get url(): string {
    return this.#search === '' ? this.path : `${this.path}?${this.#search}`;
  }

  /** Cookies by name. Malformed pairs are ignored; the first of duplicated names wins. */
  get cookies(): Readonly<Record<string, string>> {
    if (this.#cookies === undefined) this.#parseCookies();
    return this.#cookies as Record<string, string>;
  }

  /** Cookie names the client sent more than once (a duplicated session cookie is treated as none). */
  get duplicateCookies(): ReadonlySet<string> {
    if (this.#duplicateCookies === undefined) this.#parseCookies();
    return this.#duplicateCookies as ReadonlySet<string>;
  }

  #parseCookies(): void {
    const parsed = parseCookieHeader(this.raw.headers.cookie);
    const cookies = Object.create(null) as Record<string, string>;
    for (const [name, value] of parsed.values) cookies[name] = value;
    this.#cookies = cookies;
    this.#duplicateCookies = parsed.duplicates;
  }

  /** The client's address: the socket peer's, or the one trusted proxies forwarded (`trustProxy`). */
  get ip(): string | undefined {
    return this.#edgeView().ip;
  }

  /** `https` or `http` as the client used it (through trusted proxies, `trustProxy`). */
  get protocol(): 'http' | 'https' {
    return this.#edgeView().protocol;
  }

  /** The Host the client asked for, port included when sent (through trusted proxies, `trustProxy`). */
  get host(): string | undefined {
    return this.#edgeView().host;
  }

  /** True when the socket peer is one of the proxies `trustProxy` names (or counts). */
  get viaTrustedProxy(): boolean {
    return this.#edge?.trustsPeer(this.raw) ?? false;
  }

  /** `protocol://host`, for external URLs built from the request (prefer the `origin` option when set). */
  get origin(): string | undefined {
    const host = this.host;
    return host === undefined ? undefined : `${this.protocol}://${host}`;
  }

  #edgeView(): EdgeView {
    this.#view ??= this.#edge?.view(this.raw) ?? {
      ip: this.raw.socket.remoteAddress,
      protocol: (this.raw.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      host: this.raw.headers.host,
    };
    return this.#view;
  }

  /** The media type of the body without parameters, lower-cased (`application/json`). */
  get contentType(): string {
    const value = this.raw.headers['content-type'];
    if (value === undefined) return '';
    const semi = value.indexOf(';');
    return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  }

  /** The raw body. 413 as soon as it is known to exceed the limit, before reading the rest. */
  bytes(): Promise<Buffer> {
    if (this.#body === undefined) {
      this.#pendingReads++;
      this.#body = readBody(this.raw, this.maxBodyBytes, this);
    }
    return this.#body;
  }

  #pendingReads = 0;
  /** True while a body read waits for bytes: a deadline then is the client's slowness (408). */
  get readingBody(): boolean {
    return this.#pendingReads > 0;
  }

  /** Called by the body readers as they settle (synchronously: no promise reaction per read). */
  readSettled(): void {
    this.#pendingReads--;
  }

  #reading<T>(read: Promise<T>): Promise<T> {
    this.#pendingReads++;
    const done = (): void => {
      this.#pendingReads--;
    };
    read.then(done, done);
    return read;
  }

  /**
   * The body as UTF-8 text; 400 on invalid UTF-8. Intentionally not an async function: one
   * reaction on the body's promise, not an async frame awaiting it (the POST hot path).
   */
  text(): Promise<string> {
    return this.bytes().then(decodeUtf8);
  }

  /**
   * The body as JSON. 415 unless the type is application/json (or +json); 400 for malformed JSON,
   * `__proto__`/`constructor.prototype` keys (prototype pollution) or nesting beyond maxJsonDepth.
   * Always a promise, a refusal included: one reaction on the body's promise decodes and parses.
   */
  json<T = unknown>(): Promise<T> {
    const type = this.contentType;
    if (type !== 'application/json' && !type.endsWith('+json')) {
      return Promise.reject(new BadRequestError('VIAL_ERR_UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.', 415));
    }
    const maxDepth = this.#limits.maxJsonDepth;
    return this.bytes().then((bytes) => parseJson(decodeUtf8(bytes), maxDepth) as T);
  }

  /** A urlencoded or multipart form. 415 for other types; 413 past the size, part or file limits. */
  form(): Promise<FormBody> {
    if (this.#form === undefined) {
      this.#form = this.#readForm();
      this.#form.then(
        (form) => (this.#parsedForm = form),
        () => undefined, // intentionally: the caller of form() gets the rejection
      );
    }
    return this.#form;
  }

  #parsedForm: FormBody | undefined;
  /** The form once `form()` has finished reading it; undefined before (never starts a read). */
  get parsedForm(): FormBody | undefined {
    return this.#parsedForm;
  }

  async #readForm(): Promise<FormBody> {
    const type = this.contentType;
    if (type === 'application/x-www-form-urlencoded') {
      const fields = new URLSearchParams(await this.text());
      if (countEntries(fields) > this.#limits.maxParts) {
        throw new BadRequestError('VIAL_ERR_TOO_MANY_PARTS', `The form has more than ${this.#limits.maxParts} fields.`, 413);
      }
      return new FormBody(fields);
    }
    if (type === 'multipart/form-data') return this.#reading(readMultipart(this.raw, this.#limits, this.maxBodyBytes));
    throw new BadRequestError(
      'VIAL_ERR_UNSUPPORTED_MEDIA_TYPE',
      'Send the form as application/x-www-form-urlencoded or multipart/form-data.',
      415,
    );
  }
}
