/**
 * Request framing, decided from the request line and headers before routing, so that no hook or
 * handler (the synchronous fast path included) ever runs for a message whose body length the
 * server and a proxy in front of it could read differently (request smuggling).
 *
 * Node's parser (llhttp) refuses some of these itself, but only once it reaches the body: it
 * emits 'request' first, so without this check a handler runs on `Transfer-Encoding: xchunked`
 * before the parse error arrives. Others it accepts outright (`gzip, chunked`, HTTP/1.0 with
 * Transfer-Encoding, `HTTP/2.0` on the request line).
 *
 * Pure: looks only at the request it is given.
 */
import type { IncomingMessage } from 'node:http';
import { BadRequestError } from '../errors.ts';
import type { VialError } from '../errors.ts';

/** A refused framing leaves the connection in an unknown state: close it after the answer (RFC 9112 §6.3). */
const CLOSE = { connection: 'close' };

/**
 * Transfer-Encoding and the version on the request line:
 *
 * - RFC 9112 §6.3 (3): chunked must be the final coding, or the length cannot be determined:
 *   400 and close (`xchunked`, `identity`, `chunked, gzip`, an empty list element).
 * - RFC 9112 §7.1: chunked is never applied twice: 400 (`chunked, chunked`).
 * - RFC 9112 §6.1: a coding the server does not understand: 501 (`gzip, chunked`; vial decodes
 *   no transfer coding but chunked).
 * - RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing: 400 and close.
 * - RFC 9110 §15.6.6: a major version other than 1 (or 1.x other than 1.0/1.1): 505.
 *
 * Coding names are case-insensitive (RFC 9112 §7), so `Chunked` is chunked.
 */
export function checkFraming(req: IncomingMessage): VialError | undefined {
  // Real HTTP/2 (node:http2's compatibility request, which has a `stream`) is framed by its frames,
  // and Node refuses connection-specific headers such as Transfer-Encoding there itself. A
  // request line saying HTTP/2.0 over HTTP/1 is still refused below.
  if (req.httpVersionMajor === 2 && 'stream' in req) return undefined;
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) {
    return new BadRequestError(
      'VIAL_ERR_HTTP_VERSION',
      `HTTP/${req.httpVersion} is not supported; send HTTP/1.1 (or HTTP/1.0).`,
      505,
      CLOSE,
    );
  }
  const te = req.headers['transfer-encoding'];
  if (te === undefined) return undefined;
  if (req.httpVersionMinor === 0) {
    return framingError('HTTP/1.0 has no Transfer-Encoding (RFC 9112 §6.1); send Content-Length, or use HTTP/1.1.');
  }
  // Node joins repeated Transfer-Encoding fields with ", ", which is how RFC 9110 §5.3 combines them.
  const codings = te.split(',').map((coding) => coding.trim().toLowerCase());
  const last = codings[codings.length - 1];
  if (last !== 'chunked' || codings.includes('')) {
    return framingError('Transfer-Encoding must end with exactly one "chunked" coding (RFC 9112 §6.3); send "Transfer-Encoding: chunked" or a Content-Length.');
  }
  if (codings.length > 1) {
    if (codings.indexOf('chunked') !== codings.length - 1) {
      return framingError('Transfer-Encoding applies "chunked" more than once (RFC 9112 §7.1); send it once, last.');
    }
    return new BadRequestError(
      'VIAL_ERR_TRANSFER_ENCODING',
      `Transfer coding "${codings.slice(0, -1).join(', ')}" is not implemented; send the body with "Transfer-Encoding: chunked" alone (compress with Content-Encoding instead).`,
      501,
      CLOSE,
    );
  }
  return undefined;
}

function framingError(message: string): VialError {
  return new BadRequestError('VIAL_ERR_TRANSFER_ENCODING', message, 400, CLOSE);
}
