/**
 * The doctor's HTTP client: every request bounded in time and in bytes read, never throwing (a
 * failure is an answer the probes judge), plus a raw-socket GET for the header-injection probe,
 * where Node's own parser would refuse the very bytes we want to see.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  /** Stop reading the body after this many bytes (error pages can be large). Default 64 KiB. */
  maxBytes?: number;
  agent?: HttpAgent;
}

export interface Answer {
  /** 0 when no response arrived. */
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly ms: number;
  readonly timedOut: boolean;
  /** Network or parser error code when no (complete) response arrived. */
  readonly error: string | undefined;
}

/** A keep-alive agent sized for concurrent probes; closed by the caller. */
export function makeAgent(base: URL, maxSockets: number): HttpAgent {
  const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
  return base.protocol === 'https:' ? new HttpsAgent({ ...options, rejectUnauthorized: false }) : new HttpAgent(options);
}

/**
 * node:http forwards a socket's errors to the request only while the request is in flight. A server
 * that answers early (a 413 to a large body) and resets the connection can make the write of the
 * rest of the body fail after the response ended: with no listener left, that late ECONNRESET or
 * EPIPE is thrown and ends the doctor. The answer already arrived, so the error is dropped; one
 * listener per socket (keep-alive agents reuse them).
 */
const guardedSockets = new WeakSet<Socket>();
function guardLateErrors(socket: Socket): void {
  if (guardedSockets.has(socket)) return;
  guardedSockets.add(socket);
  socket.on('error', () => {});
}

export function send(base: URL, path: string, options: SendOptions = {}): Promise<Answer> {
  const url = new URL(path, base);
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve) => {
    let done = false;
    const finish = (answer: Omit<Answer, 'ms'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...answer, ms: performance.now() - started });
    };
    const req = request(url, {
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      ...(options.agent === undefined ? {} : { agent: options.agent }),
      // Self-signed certificates are normal on a test instance; the doctor judges the app, not its certificate.
      ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
    });
    req.on('socket', guardLateErrors);
    const timer = setTimeout(() => {
      finish({ status: 0, headers: {}, body: '', timedOut: true, error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < maxBytes) chunks.push(chunk);
        size += chunk.length;
      });
      const complete = (): void => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, maxBytes), timedOut: false, error: undefined });
      res.on('end', complete);
      // Intentionally still an answer: a server that replies 413 and closes mid-body has answered.
      res.on('error', complete);
      res.on('aborted', complete);
    });
    req.on('error', (error: NodeJS.ErrnoException) => finish({ status: 0, headers: {}, body: '', timedOut: false, error: error.code ?? error.message }));
    // A server may answer early (413) and close while we still write: the response event decides.
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

export interface RawAnswer {
  readonly head: string;
  readonly error: string | undefined;
}

/** GET over a bare socket and return the response head exactly as sent (no parser in between). */
export function rawGet(base: URL, path: string, timeoutMs = 5_000): Promise<RawAnswer> {
  const port = Number(base.port !== '' ? base.port : base.protocol === 'https:' ? 443 : 80);
  const host = base.hostname.replace(/^\[|\]$/g, '');
  return new Promise<RawAnswer>((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (error: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      resolve({ head: end === -1 ? text.slice(0, 16_384) : text.slice(0, end), error });
    };
    const socket = base.protocol === 'https:' ? tlsConnect({ host, port, servername: host, rejectUnauthorized: false }) : netConnect({ host, port });
    const timer = setTimeout(() => finish(chunks.length === 0 ? 'timeout' : undefined), timeoutMs);
    socket.on(base.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${base.host}\r\nUser-Agent: vial-doctor\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) finish(undefined);
    });
    socket.on('end', () => finish(undefined));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  });
}

/** Set-Cookie headers as name, value and lower-cased attributes. */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly raw: string;
}

export function parseSetCookies(headers: IncomingHttpHeaders): SetCookie[] {
  const out: SetCookie[] = [];
  for (const raw of headers['set-cookie'] ?? []) {
    const [pair = '', ...attrs] = raw.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const attributes = new Map<string, string>();
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      attributes.set((i === -1 ? attr : attr.slice(0, i)).trim().toLowerCase(), i === -1 ? '' : attr.slice(i + 1).trim());
    }
    out.push({ name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes, raw });
  }
  return out;
}

/** A minimal cookie jar: enough to carry a session through login and the probes after it. */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  store(headers: IncomingHttpHeaders): SetCookie[] {
    const cookies = parseSetCookies(headers);
    for (const cookie of cookies) {
      const maxAge = cookie.attributes.get('max-age');
      const expires = cookie.attributes.get('expires');
      const expired = (maxAge !== undefined && Number(maxAge) <= 0) || (expires !== undefined && Date.parse(expires) < Date.now()) || cookie.value === '';
      if (expired) this.#cookies.delete(cookie.name);
      else this.#cookies.set(cookie.name, cookie.value);
    }
    return cookies;
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  set(name: string, value: string): void {
    this.#cookies.set(name, value);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#cookies.entries();
  }

  get size(): number {
    return this.#cookies.size;
  }

  header(): Record<string, string> {
    if (this.#cookies.size === 0) return {};
    return { cookie: [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }
}
