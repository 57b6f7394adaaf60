/**
 * The body readers behind VialRequest (request.ts): the raw bytes with their byte limit, UTF-8
 * and JSON decoding with the JSON limits, urlencoded and multipart forms with part and file
 * limits. Each refusal is a BadRequestError written for the client (400, 413, 415).
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type busboy from 'busboy';
import sjson from 'secure-json-parse';
import type { BodyOptions } from './config.ts';
import { BadRequestError } from './errors.ts';
import { continueIfExpected } from './internal/continue.ts';

/**
 * busboy is loaded on the first multipart body, not with vial: most apps never read one, and every
 * app imports this module (issue 16). A synchronous require: busboy is CommonJS, and the reader
 * must set up its parser before the body's first chunk.
 */
const requireDependency = createRequire(import.meta.url);
let createBusboy: typeof busboy | undefined;

export type Limits = Readonly<Required<BodyOptions>>;

/** The body of a request that sent none: one shared, empty buffer. */
const EMPTY_BODY = Buffer.alloc(0);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

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

export function decodeUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new BadRequestError('VIAL_ERR_BAD_UTF8', 'The request body is not valid UTF-8.');
  }
}

export function parseJson(text: string, maxDepth: number): unknown {
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
  if (exceedsDepth(value, maxDepth)) {
    throw new BadRequestError('VIAL_ERR_JSON_TOO_DEEP', `The JSON body nests deeper than ${maxDepth} levels.`);
  }
  return value;
}

export function countEntries(params: URLSearchParams): number {
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

/**
 * Reads the whole body with one set of listeners; a body that came in one chunk (most JSON posts)
 * is that chunk, never copied. `owner.readSettled()` runs as the promise settles, whichever way.
 */
export function readBody(raw: IncomingMessage, limit: number, owner: { readSettled(): void }): Promise<Buffer> {
  const declared = raw.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    owner.readSettled();
    return Promise.reject(tooLarge(limit, raw));
  }
  // Expect: 100-continue is answered here, after admission, CSRF and the declared length said yes.
  continueIfExpected(raw);
  return new Promise<Buffer>((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        settle();
        raw.pause();
        reject(tooLarge(limit, raw));
        return;
      }
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    const onEnd = (): void => {
      settle();
      resolve(chunks !== undefined ? Buffer.concat(chunks, size) : (first ?? EMPTY_BODY));
    };
    // Intentionally without the stream error's own text: Node's messages ("aborted", parser codes)
    // describe its internals, not what the client should do.
    const onError = (): void => {
      settle();
      reject(new BadRequestError('VIAL_ERR_BODY_ABORTED', 'The request body could not be read: the connection closed or the body framing was invalid. Send the whole body, then wait for the answer.'));
    };
    const onClose = (): void => {
      if (!raw.complete) onError();
    };
    const settle = (): void => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('close', onClose);
      owner.readSettled();
    };
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('close', onClose);
  });
}

export function readMultipart(raw: IncomingMessage, limits: Limits, maxBodyBytes: number): Promise<FormBody> {
  const declared = raw.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBodyBytes + limits.maxFileBytes) return Promise.reject(tooLarge(maxBodyBytes + limits.maxFileBytes, raw));
  continueIfExpected(raw);
  return new Promise<FormBody>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = (createBusboy ??= requireDependency('busboy') as typeof busboy)({
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

/**
 * Iterative depth check: a recursive one could itself overflow the stack on hostile input. The
 * stack is only allocated once a nested object turns up (a flat object costs no allocation).
 */
function exceedsDepth(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (maxDepth < 1) return true;
  let nodes: object[] | undefined;
  let depths: number[] | undefined;
  let node = value as Record<string, unknown>;
  let depth = 1;
  for (;;) {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const child: unknown = node[i];
        if (child !== null && typeof child === 'object') {
          if (depth >= maxDepth) return true;
          (nodes ??= []).push(child);
          (depths ??= []).push(depth + 1);
        }
      }
    } else {
      for (const key in node) {
        const child = node[key];
        if (child !== null && typeof child === 'object' && Object.hasOwn(node, key)) {
          if (depth >= maxDepth) return true;
          (nodes ??= []).push(child);
          (depths ??= []).push(depth + 1);
        }
      }
    }
    if (nodes === undefined || nodes.length === 0) return false;
    node = nodes.pop() as Record<string, unknown>;
    depth = (depths as number[]).pop() as number;
  }
}
