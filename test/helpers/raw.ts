/**
 * Raw TCP requests for what fetch and http.request normalise away (`/a/../b`, `%2e%2e`, two Host
 * headers, absolute-form targets) or cannot do at all (stop sending a body half-way). Every
 * wait is bounded, and every socket is destroyed before the promise settles.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; repeated headers keep every value. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly body: string;
  /** Everything the server sent, as text. */
  readonly raw: string;
  header(name: string): string | undefined;
}

/** Sends `request` as-is and reads until the server closes or the response is complete. */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    collect(socket, timeoutMs).then(resolve, reject);
    socket.write(request);
  });
}

/**
 * Opens a socket and returns it with a promise of the first complete response. For tests that
 * keep writing (or stop writing) after the headers: the response may arrive before the body ends.
 */
export function rawOpen(port: number, timeoutMs = 5000): { socket: Socket; response: Promise<RawResponse> } {
  const socket = connect(port, '127.0.0.1');
  // Writes after the server answered and closed fail with EPIPE/ECONNRESET: expected here.
  socket.on('error', () => undefined);
  return { socket, response: collect(socket, timeoutMs) };
}

function collect(socket: Socket, timeoutMs: number): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    let eof = false;
    let settled = false;
    // Resolves once a complete response is buffered; otherwise rejects with `error` if one is given.
    const finish = (error?: Error): void => {
      if (settled) return;
      const parsed = parse(buffer, eof || error !== undefined);
      if (parsed === undefined && error === undefined) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (parsed !== undefined) resolve(parsed);
      else reject(error ?? new Error('no response'));
    };
    const timer = setTimeout(() => {
      finish(new Error(`no complete response within ${timeoutMs} ms; got ${JSON.stringify(buffer.toString('latin1').slice(0, 200))}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      finish();
    });
    socket.on('end', () => {
      eof = true;
      finish(new Error(`connection closed without a response; got ${JSON.stringify(buffer.toString('latin1'))}`));
    });
    socket.on('close', () => finish(new Error('socket closed without a response')));
    // A reset after a complete response is fine; before it, it is the answer.
    socket.on('error', (error) => finish(error));
  });
}

/** Parses one HTTP/1.1 response; undefined while incomplete (unless `atEof`, for close-delimited bodies). */
function parse(buffer: Buffer, atEof = false): RawResponse | undefined {
  const text = buffer.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, headEnd).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  const rest = buffer.subarray(Buffer.byteLength(text.slice(0, headEnd + 4), 'latin1'));
  let body: Buffer;
  const length = headers.get('content-length')?.[0];
  if (length !== undefined) {
    if (rest.length < Number(length)) return undefined;
    body = rest.subarray(0, Number(length));
  } else if (headers.get('transfer-encoding')?.[0] === 'chunked') {
    const decoded = dechunk(rest);
    if (decoded === undefined) return atEof ? make(status, headers, rest, text) : undefined;
    body = decoded;
  } else if (status === 204 || status === 304) {
    body = Buffer.alloc(0);
  } else {
    if (!atEof) return undefined;
    body = rest;
  }
  return make(status, headers, body, text);
}

function make(status: number, headers: Map<string, string[]>, body: Buffer, raw: string): RawResponse {
  return {
    status,
    headers,
    body: body.toString('utf8'),
    raw,
    header: (name) => headers.get(name.toLowerCase())?.join(', '),
  };
}

function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
}
