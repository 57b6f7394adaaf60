/**
 * The request wrapper: method, path, query, headers, cookies, params, and lazy body readers with
 * byte and part limits. Bodies are read at most once; `json()` after `text()` reuses the bytes.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import busboy from 'busboy';
import sjson from 'secure-json-parse';
import { BadRequestError } from './errors.ts';
import type { BodyOptions } from './config.ts';
import { parseCookieHeader } from './security/cookies.ts';
import { continueIfExpected } from './internal/continue.ts';
import type { Edge } from './security/edge.ts';
import type { EdgeView } from './security/proxy.ts';

export interface UploadedFile {
  readonly field: string;
  readonly filename: string;
  readonly mimeType: string;
  readonly bytes: Buffer;
}

/** A parsed form: fields like URLSearchParams, plus uploaded files for multipart bodies. */
export class FormBody {
  readonly fields: URLSearchParams;
  readonly files: readonly UploadedFile[];
  constructor(fields: URLSearchParams, files: readonly UploadedFile[] = []) {
    this.fields = fields;
    this.files = files;
  }
  get(name: string): string | null {
    return this.fields.get(name);
  }
  getAll(name: string): string[] {
    return this.fields.getAll(name);
  }
  has(name: string): boolean {
    return this.fields.has(name);
  }
  file(field: string): UploadedFile | undefined {
    return this.files.find((f) => f.field === field);
  }
  /** Fields as a plain object (last value wins); use getAll() where repeats matter. */
  toObject(): Record<string, string> {
    const out = Object.create(null) as Record<string, string>;
    for (const [k, v] of this.fields) out[k] = v;
    return out;
  }
}

const EMPTY_PARAMS: Record<string, unknown> = Object.freeze(Object.create(null) as Record<string, unknown>);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

type Limits = Readonly<Required<BodyOptions>>;

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
    this.#body ??= this.#reading(readBody(this.raw, this.maxBodyBytes));
    return this.#body;
  }

  #pendingReads = 0;
  /** True while a body read waits for bytes: a deadline then is the client's slowness (408). */
  get readingBody(): boolean {
    return this.#pendingReads > 0;
  }

  #reading<T>(read: Promise<T>): Promise<T> {
    this.#pendingReads++;
    const done = (): void => {
      this.#pendingReads--;
    };
    read.then(done, done);
    return read;
  }

  /** The body as UTF-8 text; 400 on invalid UTF-8. */
  async text(): Promise<string> {
    const bytes = await this.bytes();
    try {
      return utf8.decode(bytes);
    } catch {
      throw new BadRequestError('VIAL_ERR_BAD_UTF8', 'The request body is not valid UTF-8.');
    }
  }

  /**
   * The body as JSON. 415 unless the type is application/json (or +json); 400 for malformed JSON,
   * `__proto__`/`constructor.prototype` keys (prototype pollution) or nesting beyond maxJsonDepth.
   */
  async json<T = unknown>(): Promise<T> {
    const type = this.contentType;
    if (type !== 'application/json' && !type.endsWith('+json')) {
      throw new BadRequestError('VIAL_ERR_UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.', 415);
    }
    const text = await this.text();
    let value: unknown;
    try {
      value = sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      // secure-json-parse's own message; V8's JSON.parse messages quote the input, so a looser match
      // would report malformed JSON that merely mentions "constructor" as a forbidden key.
      if (error instanceof SyntaxError && error.message === 'Object contains forbidden prototype property') {
        throw new BadRequestError('VIAL_ERR_JSON_FORBIDDEN_KEY', 'The JSON body contains a forbidden key (__proto__ or constructor.prototype).');
      }
      throw new BadRequestError('VIAL_ERR_MALFORMED_JSON', 'The request body is not valid JSON.');
    }
    if (exceedsDepth(value, this.#limits.maxJsonDepth)) {
      throw new BadRequestError('VIAL_ERR_JSON_TOO_DEEP', `The JSON body nests deeper than ${this.#limits.maxJsonDepth} levels.`);
    }
    return value as T;
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

function countEntries(params: URLSearchParams): number {
  let n = 0;
  for (const _ of params.keys()) n++;
  return n;
}

function tooLarge(limit: number, raw: IncomingMessage): BadRequestError {
  const message = `The request body is larger than ${limit} bytes.`;
  // HTTP/1.x: Connection: close, so Node does not read the rest of an oversized body to reuse the
  // socket (the lingering close bounds what is still drained, load/linger.ts). Intentionally not
  // on HTTP/2, where the header is connection-specific and refused (RFC 9113 §8.2.2: Node drops
  // it with an UnsupportedWarning); the stream ends on its own there.
  if (raw.httpVersionMajor === 2) return new BadRequestError('VIAL_ERR_BODY_TOO_LARGE', message, 413);
  return new BadRequestError('VIAL_ERR_BODY_TOO_LARGE', message, 413, { connection: 'close' });
}

function readBody(raw: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = raw.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit, raw));
  // Expect: 100-continue is answered here, after admission, CSRF and the declared length said yes.
  continueIfExpected(raw);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        raw.pause();
        reject(tooLarge(limit, raw));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    // Intentionally without the stream error's own text: Node's messages ("aborted", parser codes)
    // describe its internals, not what the client should do.
    const onError = (): void => {
      cleanup();
      reject(new BadRequestError('VIAL_ERR_BODY_ABORTED', 'The request body could not be read: the connection closed or the body framing was invalid. Send the whole body, then wait for the answer.'));
    };
    const onClose = (): void => {
      if (!raw.complete) onError();
    };
    const cleanup = (): void => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('close', onClose);
    };
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('close', onClose);
  });
}

function readMultipart(raw: IncomingMessage, limits: Limits, maxBodyBytes: number): Promise<FormBody> {
  const declared = raw.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBodyBytes + limits.maxFileBytes) return Promise.reject(tooLarge(maxBodyBytes + limits.maxFileBytes, raw));
  continueIfExpected(raw);
  return new Promise<FormBody>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: raw.headers,
        limits: { parts: limits.maxParts, fileSize: limits.maxFileBytes, fieldSize: limits.maxFieldBytes, headerPairs: 50 },
      });
    } catch {
      reject(new BadRequestError('VIAL_ERR_MALFORMED_MULTIPART', 'The multipart body has no valid boundary.'));
      return;
    }
    const fields = new URLSearchParams();
    const files: UploadedFile[] = [];
    let failed = false;
    let total = 0;
    const fail = (error: BadRequestError): void => {
      if (failed) return;
      failed = true;
      raw.unpipe(parser);
      raw.pause();
      reject(error);
    };
    raw.on('data', (chunk: Buffer) => {
      total += chunk.length;
      // The whole multipart body is bounded too: files + fields + framing.
      if (total > maxBodyBytes + limits.maxFileBytes) fail(tooLarge(maxBodyBytes + limits.maxFileBytes, raw));
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new BadRequestError('VIAL_ERR_FIELD_TOO_LARGE', `Form field "${name}" is larger than ${limits.maxFieldBytes} bytes.`, 413));
      else fields.append(name, value);
    });
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => fail(new BadRequestError('VIAL_ERR_FILE_TOO_LARGE', `Uploaded file "${info.filename ?? ''}" is larger than ${limits.maxFileBytes} bytes.`, 413)));
      stream.on('end', () => {
        if (!failed) files.push({ field, filename: info.filename ?? '', mimeType: info.mimeType, bytes: Buffer.concat(chunks) });
      });
    });
    parser.on('partsLimit', () => fail(new BadRequestError('VIAL_ERR_TOO_MANY_PARTS', `The form has more than ${limits.maxParts} parts.`, 413)));
    parser.on('error', () => fail(new BadRequestError('VIAL_ERR_MALFORMED_MULTIPART', 'The multipart body is malformed.')));
    parser.on('close', () => {
      if (!failed) resolve(new FormBody(fields, files));
    });
    raw.pipe(parser);
  });
}

/** Iterative depth check: a recursive one could itself overflow the stack on hostile input. */
function exceedsDepth(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (depth > maxDepth) return true;
    for (const child of Object.values(node as object)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
