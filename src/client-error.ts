/**
 * Answers requests Node's HTTP parser refuses before vial ever sees them (malformed request line,
 * header overflow, slow headers) with the same JSON error shape and headers as every other error
 * (error-response.ts), instead of Node's bare "400 Bad Request". Node writes its own 408/431 only
 * while the server has no 'clientError' listener (node:_http_server), so this one keeps those statuses.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { rawErrorResponse } from './error-response.ts';
import type { PublicError } from './error-response.ts';
import { nextRequestId } from './internal/request-id.ts';
import { checkFraming } from './security/framing.ts';

interface ParserError extends Error {
  code?: string;
  /** The bytes the parser choked on (Node sets it on HPE_* errors). */
  rawPacket?: Buffer;
}

/** A request line whose version is well-formed (HTTP/DIGIT.DIGIT) but one llhttp does not speak. */
const WELL_FORMED_VERSION = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/\d\.\d\r?\n/;

const STATUS_BY_CODE: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
};

// Intentionally fixed texts: the parser's own message names its internals (HPE_*), never sent.
const MESSAGE_BY_STATUS: Record<number, string> = {
  400: 'The request could not be parsed as HTTP/1.1.',
  408: 'The request was not received in time.',
  413: 'The request body framing is too large.',
  431: 'The request headers are too large.',
  505: 'This HTTP version is not supported; send HTTP/1.1 (or HTTP/1.0).',
};

/**
 * HPE_INVALID_VERSION covers both garbage (`HTTP/111`, 400) and a well-formed version llhttp does
 * not speak (`HTTP/1.2`, `HTTP/3.0`), which RFC 9110 §15.6.6 answers with 505.
 */
function statusFor(error: ParserError): number {
  if (error.code === 'HPE_INVALID_VERSION' && error.rawPacket !== undefined && WELL_FORMED_VERSION.test(error.rawPacket.subarray(0, 8192).toString('latin1'))) return 505;
  return STATUS_BY_CODE[error.code ?? ''] ?? 400;
}

/** `headers`: what the app adds to JSON responses (the data subset of its security headers). */
export function installClientErrorHandler(server: Server, headers: readonly (readonly [name: string, value: string])[]): void {
  const fixed = headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  server.on('clientError', function answerClientError(error: ParserError, socket: Duplex) {
    // A reset or a half-sent response leaves nothing to answer on (as Node's default handler does).
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean; req?: IncomingMessage } })._httpMessage;
    // llhttp reports a Transfer-Encoding it will not frame only once it reaches the body, after
    // 'request' was emitted; the dispatcher has already refused that request at step 0
    // (security/framing.ts) and its answer, with Connection: close, is on the way.
    if (error.code === 'HPE_INVALID_TRANSFER_ENCODING' && inFlight?.req !== undefined && checkFraming(inFlight.req) !== undefined) return;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status = statusFor(error);
    const fields: PublicError = { status, code: `VIAL_ERR_HTTP_${status}`, message: MESSAGE_BY_STATUS[status] as string };
    socket.end(rawErrorResponse(fields, nextRequestId(), fixed));
  });
}
