/**
 * The test client: requests go through the app's real request listener in-process (no socket),
 * with a cookie jar, so tests exercise the same lifecycle as production.
 *
 * It behaves like a same-origin browser by default (`Sec-Fetch-Site: same-origin`), so CSRF
 * protection stays on in tests without getting in the way; pass `crossSite: true` or your own
 * headers to test refusals.
 */
import { inject } from 'light-my-request';
import type { Vial } from '../app.ts';
import type { Server } from 'node:http';
import { clientOver } from '../client.ts';
import type { Client } from '../client.ts';
import { openInProcess } from '../websocket/testing.ts';
import type { TestWebSocket, TestWebSocketOptions } from '../websocket/testing.ts';

export interface TestRequest {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Sends JSON with the right content type. */
  json?: unknown;
  /** Sends an urlencoded form. */
  form?: Record<string, string>;
  body?: string | Buffer;
  /** Send as a cross-site browser request would (`Sec-Fetch-Site: cross-site`, foreign Origin). */
  crossSite?: boolean;
  /** Skip the cookie jar for this request. */
  noCookies?: boolean;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly text: string;
  json<T = unknown>(): T;
  header(name: string): string | undefined;
}

export class TestClient<A = Vial> {
  readonly #app: Vial;
  /** Cookies the app has set, by name. */
  readonly cookies = new Map<string, string>();
  #api: Client<A> | undefined;
  #server: Server | undefined;

  constructor(app: Vial) {
    this.#app = app;
  }

  /**
   * The typed client of vial/client over this test client (same cookie jar, in-process):
   * `await client.api.get('/todos/<int:id>', { params: { id: 1 } })`, typed from the app's routes.
   */
  get api(): Client<A> {
    this.#api ??= clientOver<A>(async ({ method, url, headers, body }) => {
      const res = await this.request(method, url, { headers, ...(body === undefined ? {} : { body }) });
      const out = new Headers();
      for (const [name, value] of Object.entries(res.headers)) {
        if (value === undefined) continue;
        for (const item of Array.isArray(value) ? value : [String(value)]) out.append(name, item);
      }
      return { status: res.status, headers: out, text: res.text };
    });
    return this.#api;
  }

  /**
   * Opens a WebSocket to the app in-process (no port), as a same-origin page would: the app's own
   * Origin (`crossSite` sends a foreign one) and the cookie jar. Needs the websocket plugin.
   */
  async websocket(path: string, init: TestWebSocketOptions & { crossSite?: boolean; noCookies?: boolean } = {}): Promise<TestWebSocket> {
    await this.#app.start();
    // A server the app creates (its plugins' upgrade listeners attached) that never listens.
    this.#server ??= this.#app.createServer();
    const host = defaultHost(this.#app);
    const headers: Record<string, string> = { origin: init.crossSite === true ? 'https://evil.example' : `http://${host}`, ...lowerKeys(init.headers ?? {}) };
    if (init.noCookies !== true && this.cookies.size > 0 && headers['cookie'] === undefined) {
      headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    return openInProcess(this.#server, host, path, { ...init, headers });
  }

  get(path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.request('GET', path, init);
  }
  head(path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.request('HEAD', path, init);
  }
  post(path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.request('POST', path, init);
  }
  put(path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.request('PUT', path, init);
  }
  patch(path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.request('PATCH', path, init);
  }
  delete(path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.request('DELETE', path, init);
  }
  options(path: string, init: TestRequest = {}): Promise<TestResponse> {
    return this.request('OPTIONS', path, init);
  }

  async request(method: string, path: string, init: TestRequest = {}): Promise<TestResponse> {
    await this.#app.start();
    const encoded = encodeTestRequest(path, init);
    const headers: Record<string, string> = { host: defaultHost(this.#app), ...encoded.headers };
    if (init.noCookies !== true && this.cookies.size > 0 && headers['cookie'] === undefined) {
      headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const { url, payload } = encoded;
    const res = await inject(this.#app.handler, {
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    this.#storeCookies(res.headers['set-cookie']);
    const text = res.payload;
    return {
      status: res.statusCode,
      headers: res.headers,
      text,
      json: <T>() => JSON.parse(text) as T,
      header: (name: string) => {
        const value = res.headers[name.toLowerCase()];
        return Array.isArray(value) ? value.join(', ') : value === undefined ? undefined : String(value);
      },
    };
  }

  #storeCookies(setCookie: string | string[] | number | undefined): void {
    if (setCookie === undefined || typeof setCookie === 'number') return;
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = /;\s*max-age=0/i.test(line) || /;\s*expires=Thu, 01 Jan 1970/i.test(line);
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

/**
 * What the test client sends for a TestRequest: same-origin browser headers (or cross-site ones),
 * the JSON or form encoding, the caller's headers last, and the query appended to the path.
 * Exported so a suite can send exactly the same request over a real socket.
 */
export function encodeTestRequest(path: string, init: TestRequest = {}): { url: string; headers: Record<string, string>; payload: string | Buffer | undefined } {
  const headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' };
  if (init.crossSite === true) {
    headers['sec-fetch-site'] = 'cross-site';
    headers['origin'] = 'https://evil.example';
  }
  let payload: string | Buffer | undefined = init.body;
  if (init.json !== undefined) {
    payload = JSON.stringify(init.json);
    headers['content-type'] = 'application/json';
  } else if (init.form !== undefined) {
    payload = new URLSearchParams(init.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  Object.assign(headers, lowerKeys(init.headers ?? {}));
  const url = init.query === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}${new URLSearchParams(init.query).toString()}`;
  return { url, headers, payload };
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/** `const client = testClient(app)`. */
export function testClient<A extends Vial>(app: A): TestClient<A> {
  return new TestClient<A>(app);
}

/** The app's own host (from `origin`, else the first exact allowedHosts entry), so the requests pass its Host check. */
function defaultHost(app: Vial): string {
  if (app.config.origin !== undefined) return new URL(app.config.origin).host;
  return app.config.allowedHosts?.find((entry) => entry !== '*' && !entry.startsWith('.')) ?? 'localhost';
}
