/**
 * One error base class for everything vial throws. Every error has a stable `code`
 * (documented in docs/errors.md; test/errors.test.ts keeps the two in step), an HTTP
 * `status`, and `expose`: whether its message may be shown to a client. Messages say what
 * happened and what to do next.
 */
import type { VialErrorCode } from './error-codes.ts';

export interface VialErrorOptions {
  /** HTTP status the error maps to when it escapes a handler. Default 500. */
  status?: number;
  /** Whether `message` is safe to send to the client. Default: true for 4xx, false otherwise. */
  expose?: boolean;
  /** Extra headers to send with the error response (e.g. `Retry-After`, `Allow`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class VialError extends Error {
  readonly code: VialErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: VialErrorCode, message: string, options: VialErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? (this.status >= 400 && this.status < 500);
    this.headers = options.headers ?? {};
  }
}

/** An HTTP error raised on purpose, usually through `abort()`. */
export class HttpError extends VialError {
  constructor(status: number, message?: string, options: Omit<VialErrorOptions, 'status'> = {}) {
    super(`VIAL_ERR_HTTP_${status}`, message ?? statusText(status), { ...options, status });
  }
}

/** A misuse of the API by the application (wrong arguments, wrong order). Never a client's fault. */
export class ConfigError extends VialError {
  constructor(code: VialErrorCode, message: string) {
    super(code, message, { status: 500, expose: false });
  }
}

/** Using `g`, `request` or `session` where no request is being handled. */
export class ContextError extends VialError {
  constructor(what: string) {
    super(
      'VIAL_ERR_NO_CONTEXT',
      `Working outside of request context: \`${what}\` was used where no request is being handled. ` +
        'Use it inside a route handler or hook (or code they call), or take `ctx` as a parameter ' +
        'and pass it along. In tests, send a request through the test client.',
      { status: 500, expose: false },
    );
  }
}

/** A request body or header the client sent that vial refuses. Always exposed: it is the client's fault. */
export class BadRequestError extends VialError {
  constructor(code: VialErrorCode, message: string, status = 400, headers?: Record<string, string>) {
    super(code, message, headers === undefined ? { status, expose: true } : { status, expose: true, headers });
  }
}

/** The client went away before the response was finished. */
export class ClientGoneError extends VialError {
  constructor() {
    super('VIAL_ERR_CLIENT_GONE', 'The client closed the connection before the response was sent.', { status: 499, expose: false });
  }
}

/** The request ran past its deadline (`timeoutMs`, default load.deadlines.requestTimeoutMs). */
export class DeadlineError extends VialError {
  constructor(deadlineAt: number) {
    super(
      'VIAL_ERR_DEADLINE',
      `The request did not finish before its deadline (${new Date(deadlineAt).toISOString()}). Try again later; ` +
        'if this route is slow by design, raise its timeoutMs.',
      { status: 504, expose: true },
    );
  }
}

/** The deadline passed while the client was still sending the body: its slowness, so 408 (RFC 9110 §15.5.9). */
export class BodyTimeoutError extends VialError {
  constructor() {
    super('VIAL_ERR_BODY_TIMEOUT', 'The request body did not arrive before the deadline. Send it faster, or in smaller parts.', {
      status: 408,
      expose: true,
      // The rest of the body may still be on its way: do not read it as the next request.
      headers: { connection: 'close' },
    });
  }
}

/** Stops the request with an HTTP error, like Flask's `abort(404)`. */
export function abort(status: number, message?: string, headers?: Record<string, string>): never {
  throw new HttpError(status, message, headers === undefined ? {} : { headers });
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? (status >= 500 ? 'Server Error' : 'Error');
}
