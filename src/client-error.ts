/**
 * Answers requests Node's HTTP parser refuses before vial ever sees them (malformed request line,
 * header overflow, slow headers) with the same JSON error shape and headers as every other error
 * (error-response.ts), instead of Node's bare "400 Bad Request". Node writes its own 408/431 only
 * while the server has no 'clientError' listener (node:_http_server), so this one keeps those statuses.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { rawErrorResponse } from './error-response.ts';
import type { PublicError } from './error-response.ts';
import { nextRequestId } from './internal/request-id.ts';

interface ParserError extends Error {
  code?: string;
}

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
};

/** `headers`: what the app adds to JSON responses (the data subset of its security headers). */
export function installClientErrorHandler(server: Server, headers: readonly (readonly [name: string, value: string])[]): void {
  const fixed = headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  server.on('clientError', function answerClientError(error: ParserError, socket: Duplex) {
    // A reset or a half-sent response leaves nothing to answer on (as Node's default handler does).
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status = STATUS_BY_CODE[error.code ?? ''] ?? 400;
    const fields: PublicError = { status, code: `VIAL_ERR_HTTP_${status}`, message: MESSAGE_BY_STATUS[status] as string };
    socket.end(rawErrorResponse(fields, nextRequestId(), fixed));
  });
}
