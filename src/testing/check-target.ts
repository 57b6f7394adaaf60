/**
 * What the checks of vial/testing send requests to: an app in this process (through the test
 * client, no socket) or the base URL of a running server (over keep-alive sockets, through the
 * doctor's bounded HTTP client). Both send exactly the same request for a TestRequest, so a check
 * reads the same in-process and against a real server.
 */
import type { Agent } from 'node:http';
import type { Vial } from '../app.ts';
import { ConfigError } from '../errors.ts';
import { makeAgent, send } from '../cli/doctor/http.ts';
import { TestClient, encodeTestRequest } from './client.ts';
import type { TestRequest } from './client.ts';

/** An app to drive in-process, or the base URL of a running server (`http://127.0.0.1:8080`). */
export type CheckTarget = Vial | string | URL;

export interface CheckAnswer {
  /** 0 when no response arrived (connection refused, reset, or `timeoutMs` passed). */
  readonly status: number;
  readonly text: string;
}

export interface CheckSender {
  send(method: string, path: string, init: TestRequest): Promise<CheckAnswer>;
  /** Closes the sockets of a URL target; nothing to do in-process. */
  close(): void;
}

function isUrl(target: CheckTarget): target is string | URL {
  return typeof target === 'string' || target instanceof URL;
}

function baseUrl(target: string | URL): URL {
  try {
    const url = new URL(target);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError('VIAL_ERR_CONFIG', `A check's target must be a Vial app or an http(s) base URL like http://127.0.0.1:8080, got "${String(target)}".`);
}

/** A sender for `inFlight` concurrent requests, each bounded by `timeoutMs` and `maxBytes` over a socket. */
export function checkSender(target: CheckTarget, options: { inFlight: number; timeoutMs: number; maxBytes: number }): CheckSender {
  if (!isUrl(target)) {
    // Intentionally one client with the cookie jar off: every request carries only the identity
    // the check gives it, never a cookie a previous answer set for another identity.
    const client = new TestClient(target);
    return {
      send: async (method, path, init) => {
        const res = await client.request(method, path, { ...init, noCookies: true });
        return { status: res.status, text: res.text };
      },
      close: () => undefined,
    };
  }
  const base = baseUrl(target);
  const agent: Agent = makeAgent(base, options.inFlight);
  return {
    send: async (method, path, init) => {
      const { url, headers, payload } = encodeTestRequest(path, init);
      const answer = await send(base, url, {
        method,
        headers,
        agent,
        timeoutMs: options.timeoutMs,
        maxBytes: options.maxBytes,
        ...(payload === undefined ? {} : { body: payload }),
      });
      return { status: answer.status, text: answer.body };
    },
    close: () => agent.destroy(),
  };
}

/** `route` with every `{placeholder}` replaced by `value`, URL-encoded. */
export function fillRoute(route: string, placeholder: string, value: string): string {
  return route.replaceAll(`{${placeholder}}`, encodeURIComponent(value));
}

export function checkRoute(what: string, route: string, placeholder: string, placeholderOptional: boolean): void {
  if (!route.startsWith('/')) throw new ConfigError('VIAL_ERR_CONFIG', `${what}: route must be a path starting with "/", like "/whoami?user={${placeholder}}", got "${route}".`);
  if (!placeholderOptional && !route.includes(`{${placeholder}}`)) {
    throw new ConfigError('VIAL_ERR_CONFIG', `${what}: route needs a {${placeholder}} placeholder for the per-request value, like "/whoami?user={${placeholder}}", or pass request: (${placeholder}) => ({ headers: { ... } }) to send it another way. Got "${route}".`);
  }
}

export function checkCount(what: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError('VIAL_ERR_CONFIG', `${what}: ${name} must be an integer from ${min} to ${max}, got ${String(value)}.`);
}
