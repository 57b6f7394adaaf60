/**
 * Hostile request targets, refused with 400 before routing: dot segments, encoded slashes and
 * backslashes, invalid or overlong percent-encoding, two Host headers, absolute-form targets for
 * another host. Pure: looks only at the request line and headers it is given.
 */
import type { IncomingMessage } from 'node:http';
import { BadRequestError, HttpError } from '../errors.ts';
import type { VialError } from '../errors.ts';

const SUSPICIOUS_PATH = /[%\\]|\/\.\.?(?:\/|$)/;
const BAD_DECODED = /\\|\0|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * Refuses paths that only make sense as an attack: dot segments, backslashes, NUL, encoded
 * slashes, invalid or overlong percent-encoded UTF-8 (decodeURIComponent throws on overlong forms).
 * Cheap on the common path: the decode only runs when a '%', '\\' or dot segment is there.
 */
export function checkPath(path: string): VialError | undefined {
  if (!SUSPICIOUS_PATH.test(path)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return new BadRequestError('VIAL_ERR_BAD_PATH', 'The URL path has invalid percent-encoding.');
  }
  if (BAD_DECODED.test(decoded) || /%2f|%5c/i.test(path)) {
    return new BadRequestError('VIAL_ERR_BAD_PATH', 'The URL path contains dot segments, backslashes, NUL or encoded slashes.');
  }
  return undefined;
}

/** Two Host headers are a request-smuggling and cache-poisoning tool (RFC 9112 §3.2: respond 400). */
export function checkHost(req: IncomingMessage): VialError | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) {
      return new BadRequestError('VIAL_ERR_BAD_HOST', 'The request has more than one Host header.');
    }
  }
  if (hosts === 0 && req.httpVersionMinor === 1) {
    return new BadRequestError('VIAL_ERR_BAD_HOST', 'HTTP/1.1 requests need a Host header.');
  }
  return undefined;
}

/**
 * Absolute-form targets (`GET http://host/path`) are accepted only for this request's own Host;
 * anything else (`*`, authority-form, another host) gets 400 so routing never depends on a host
 * the Host header did not name.
 */
export function checkNonOriginTarget(target: string, req: IncomingMessage): string | VialError {
  if (req.method === 'OPTIONS' && target === '*') return new HttpError(404, 'No route matches this URL.');
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return new BadRequestError('VIAL_ERR_BAD_TARGET', 'The request target is not a valid path or URL.');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host !== req.headers.host) {
    return new BadRequestError('VIAL_ERR_BAD_TARGET', 'The request target names another host.');
  }
  return url.pathname;
}
