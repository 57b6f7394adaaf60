/**
 * A header value with CR, LF or another forbidden byte (RFC 9110 §5.5) is how a handler that
 * echoes input into a header becomes response splitting. Node refuses it with a TypeError about
 * "invalid character"; this turns that into a VialError that names the header and says what to
 * do. The client still sees a plain 500 (not exposed): the fault is the app's.
 */
import type { ServerResponse } from 'node:http';
import { VialError } from '../errors.ts';
/** Node's flat writeHead list (response.ts HeaderList): name, value, name, value... */
type HeaderList = readonly (string | readonly string[])[];

const NODE_HEADER_CODES = new Set(['ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'ERR_HTTP_INVALID_HEADER_VALUE']);

export function invalidHeaderError(name: string, cause: unknown): VialError {
  return new VialError(
    'VIAL_ERR_HEADER_INVALID',
    `Response header ${JSON.stringify(name.slice(0, 100))} has an invalid name or a value with CR, LF or another control character. ` +
      'Never copy request input into a header as is: validate it, or encode it (encodeURIComponent).',
    { status: 500, expose: false, cause },
  );
}

export function isNodeHeaderError(error: unknown): boolean {
  return error instanceof TypeError && NODE_HEADER_CODES.has((error as { code?: string }).code ?? '');
}

/** res.writeHead, with Node's header TypeError turned into VIAL_ERR_HEADER_INVALID naming the header. */
export function writeHeadChecked(res: ServerResponse, status: number, head: HeaderList): void {
  try {
    res.writeHead(status, head as string[]);
  } catch (error) {
    if ((error as { code?: string } | null)?.code === 'ERR_HTTP2_INVALID_CONNECTION_HEADERS') {
      // HTTP/2 has no connection-specific headers (RFC 9113 §8.2.2): the `Connection: close` an
      // HTTP/1 refusal carries (413, 431, framing errors) means nothing on a stream, and Node's
      // compatibility layer throws on it rather than drop it. Retried without them, so the client
      // gets the refusal instead of a 500; only this rare path pays for the copy.
      res.writeHead(status, withoutConnectionHeaders(head) as string[]);
      return;
    }
    if (!isNodeHeaderError(error)) throw error;
    throw invalidHeaderError(findBadHeader(head) ?? 'unknown', error);
  }
}

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function withoutConnectionHeaders(head: HeaderList): HeaderList {
  const kept: (string | readonly string[])[] = [];
  for (let i = 0; i < head.length; i += 2) {
    const name = head[i] as string;
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) kept.push(name, head[i + 1] as string | readonly string[]);
  }
  return kept;
}

function findBadHeader(head: HeaderList): string | undefined {
  for (let i = 0; i < head.length; i += 2) {
    const name = head[i] as string;
    const value = head[i + 1];
    const values = Array.isArray(value) ? value : [value];
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return name;
    for (const v of values) if (typeof v === 'string' && /[^\t\x20-\x7e\x80-\xff]/.test(v)) return name;
  }
  return undefined;
}
