/**
 * Runs an integration suite twice, as h3 does: once through the in-process test client
 * (src/testing.ts, no socket) and once against a real `node:http` server on 127.0.0.1. Both modes
 * answer through one small interface, so a test is written once and proves the same behaviour
 * with and without a socket in between.
 *
 * The real-server mode uses `node:http.request` rather than fetch: fetch normalises paths, hides
 * repeated headers and cannot send a body without its own framing, which these tests need to see.
 */
import { describe } from 'node:test';
import type { TestContext } from 'node:test';
import { Agent } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Vial } from '../../src/index.ts';
import type { VialOptions } from '../../src/index.ts';
import { encodeTestRequest, TestClient } from '../../src/testing.ts';
import type { TestRequest } from '../../src/testing.ts';
import { send } from './net.ts';

export type Mode = 'client' | 'server';
export const MODES: readonly Mode[] = ['client', 'server'];

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** One header's value; repeated headers (Set-Cookie) are joined with ", ". */
  header(name: string): string | undefined;
  json<T = unknown>(): T;
}

export interface Conn {
  readonly mode: Mode;
  request(method: string, path: string, init?: TestRequest): Promise<Reply>;
  get(path: string, init?: TestRequest): Promise<Reply>;
  head(path: string, init?: TestRequest): Promise<Reply>;
  post(path: string, init?: TestRequest): Promise<Reply>;
  options(path: string, init?: TestRequest): Promise<Reply>;
  /** The server's base URL (real-server mode only; undefined for the test client). */
  readonly url: string | undefined;
  readonly port: number | undefined;
}

/** `describe(title)` once per mode; the body gets the mode to pass to `connect`. */
export function both(title: string, body: (mode: Mode) => void): void {
  for (const mode of MODES) {
    describe(`${title} (${mode === 'client' ? 'test client' : 'real server'})`, () => body(mode));
  }
}

/**
 * An app for core tests: silent (tests assert on responses, not log lines), and without the
 * process-wide monitors `listen()` would start (watchdog thread, allocation sampler, leak alarm)
 * or event-loop pressure shedding, which on a shared, noisy machine would turn a slow moment into
 * a 503. Those have their own suites; here they would only add weight and flakiness.
 */
export function makeApp(options: VialOptions = {}): Vial {
  return new Vial({
    ...options,
    log: { level: 'silent', ...options.log },
    watchdog: { enabled: false, ...options.watchdog },
    memory: {
      ...options.memory,
      allocationSampling: { enabled: false, ...options.memory?.allocationSampling },
      leakAlarm: { enabled: false, ...options.memory?.leakAlarm },
    },
    load: { ...options.load, pressure: { enabled: false, ...options.load?.pressure } },
  });
}

/**
 * Connects to `app` in the given mode. The server (if any) is closed when the test ends, through
 * `t.after`, so a failing assertion never leaves a listening socket behind.
 */
export async function connect(t: TestContext, mode: Mode, app: Vial): Promise<Conn> {
  if (mode === 'client') {
    const client = new TestClient(app);
    const request = async (method: string, path: string, init: TestRequest = {}): Promise<Reply> => {
      const res = await client.request(method, path, init);
      return toReply(res.status, res.headers as IncomingHttpHeaders, res.text);
    };
    return makeConn('client', request, undefined, undefined);
  }
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  // keepAlive off: every request closes its socket, so close() never waits on an idle client.
  const agent = new Agent({ keepAlive: false });
  t.after(async () => {
    agent.destroy();
    await running.close();
  });
  const request = (method: string, path: string, init: TestRequest = {}): Promise<Reply> =>
    sendOverHttp(running.port, agent, method, path, init);
  return makeConn('server', request, running.url, running.port);
}

function makeConn(
  mode: Mode,
  request: (method: string, path: string, init?: TestRequest) => Promise<Reply>,
  url: string | undefined,
  port: number | undefined,
): Conn {
  return {
    mode,
    url,
    port,
    request,
    get: (path, init) => request('GET', path, init),
    head: (path, init) => request('HEAD', path, init),
    post: (path, init) => request('POST', path, init),
    options: (path, init) => request('OPTIONS', path, init),
  };
}

/** Mirrors what TestClient sends (same-origin browser headers, JSON and form encodings). */
async function sendOverHttp(port: number, agent: Agent, method: string, path: string, init: TestRequest): Promise<Reply> {
  const { url, headers, payload } = encodeTestRequest(path, init);
  const answer = await send(port, agent, method, url, headers, payload);
  return toReply(answer.status, answer.headers, answer.text);
}

function toReply(status: number, headers: IncomingHttpHeaders, text: string): Reply {
  return {
    status,
    headers,
    text,
    header: (name) => {
      const value = headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value === undefined ? undefined : String(value);
    },
    json: <T>() => JSON.parse(text) as T,
  };
}

/** The JSON error body every refusal carries. */
export interface ErrorBody {
  error: { status: number; code: string; message: string; requestId: string };
}
