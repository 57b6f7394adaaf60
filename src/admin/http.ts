/**
 * The admin listener's plumbing, shared by the app's admin server and the primary's: options and
 * the token rule, bearer checks, and a tiny table of endpoints over node:http. Kept apart from the
 * endpoints so both listeners apply the same rule the same way.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { VialErrorCode } from '../error-codes.ts';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { ConfigError, VialError } from '../errors.ts';

export interface AdminOptions {
  /** Default 127.0.0.1. Any non-loopback address requires `token`. */
  host?: string;
  /** Default 9464 (the port Prometheus exporters conventionally use); 0 picks a free one. */
  port?: number;
  /** Bearer token for every data endpoint. Required off loopback; at least 16 characters. */
  token?: string;
}

export interface RunningAdmin {
  /** `http://127.0.0.1:9464` */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  body: string | Buffer;
  type: string;
  headers?: Record<string, string>;
}

export interface Endpoint {
  /** Default ['GET']; HEAD is answered for GET. */
  methods?: readonly string[];
  /** Static assets (the dashboard page and its scripts) hold no data and skip the token. */
  public?: boolean;
  handle(url: URL, req: IncomingMessage): Reply | Promise<Reply>;
}

export const DEFAULT_ADMIN_PORT = 9464;
const MIN_TOKEN_LENGTH = 16;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare.toLowerCase().startsWith('::ffff:127.');
  return false;
}

/** Fills defaults and applies the token rule: refuse to start open on a non-loopback address. */
export function resolveAdminOptions(options: AdminOptions = {}): { host: string; port: number; token: string | undefined } {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_ADMIN_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('VIAL_ERR_ADMIN_OPTION', `admin.port must be an integer from 0 to 65535, got ${String(port)}.`);
  }
  const token = options.token === '' ? undefined : options.token;
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError('VIAL_ERR_ADMIN_OPTION', `admin.token must be at least ${MIN_TOKEN_LENGTH} characters (use a random one: \`openssl rand -hex 32\`).`);
  }
  if (token === undefined && !isLoopback(host)) {
    throw new ConfigError(
      'VIAL_ERR_ADMIN_TOKEN_REQUIRED',
      `The admin listener would bind ${host} without a token: anyone who can reach that address could read ` +
        'routes, stacks and memory, and take heap snapshots. Set admin.token (VIAL_ADMIN_TOKEN) to a random ' +
        'secret of 16+ characters, or bind admin.host to 127.0.0.1.',
    );
  }
  return { host, port, token };
}

/** Constant-time: both sides are hashed first, so neither length nor content leaks through timing. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = createHash('sha256').update(header.slice(7).trim()).digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, expected);
}

export function json(value: unknown, status = 200): Reply {
  return { status, body: JSON.stringify(value), type: 'application/json; charset=utf-8' };
}

export function errorReply(status: number, code: VialErrorCode, message: string, headers?: Record<string, string>): Reply {
  return { ...json({ error: { status, code, message } }, status), ...(headers === undefined ? {} : { headers }) };
}

// The admin page loads nothing from elsewhere; the CSP says so to the browser as well.
const BASE_HEADERS: Record<string, string> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
};

export async function startListener(endpoints: ReadonlyMap<string, Endpoint>, options: { host: string; port: number; token: string | undefined }, onError: (error: unknown) => void): Promise<RunningAdmin> {
  const { token } = options;
  async function answer(req: IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const endpoint = endpoints.get(url.pathname);
    if (endpoint === undefined) return errorReply(404, 'VIAL_ERR_HTTP_404', `No admin endpoint ${url.pathname}. See GET / for the dashboard, docs/admin.md for the list.`);
    if (token !== undefined && endpoint.public !== true && !tokenMatches(req.headers.authorization, token)) {
      return errorReply(401, 'VIAL_ERR_ADMIN_UNAUTHORIZED', 'This admin endpoint needs `Authorization: Bearer <admin token>`.', { 'www-authenticate': 'Bearer realm="vial-admin"' });
    }
    const methods = endpoint.methods ?? ['GET'];
    const method = req.method === 'HEAD' && methods.includes('GET') ? 'GET' : req.method ?? 'GET';
    if (!methods.includes(method)) {
      return errorReply(405, 'VIAL_ERR_HTTP_405', `${url.pathname} accepts ${methods.join(', ')}.`, { allow: methods.join(', ') });
    }
    return endpoint.handle(url, req);
  }
  function respond(res: ServerResponse, reply: Reply, head: boolean): void {
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
    res.writeHead(reply.status, { ...BASE_HEADERS, ...reply.headers, 'content-type': reply.type, 'content-length': String(body.length) });
    res.end(head ? undefined : body);
  }
  const server = createServer((req, res) => {
    // Admin requests carry no body worth reading; drain whatever came so the socket stays usable.
    req.resume();
    answer(req).then(
      (reply) => respond(res, reply, req.method === 'HEAD'),
      (error: unknown) => {
        if (error instanceof VialError && error.expose) {
          respond(res, errorReply(error.status, error.code, error.message, { ...error.headers }), false);
          return;
        }
        onError(error);
        respond(res, errorReply(500, 'VIAL_ERR_INTERNAL', 'The admin endpoint failed; the error is in the app log.'), false);
      },
    );
  });
  // Admin clients are operators and Prometheus: short timeouts keep a stuck client from holding sockets.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Dashboards poll with keep-alive; an open page must not hold shutdown up.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      return closing;
    },
  };
}
