/**
 * Runs inside a piscina worker thread: imports the route's handler module (cached by the
 * module loader after the first call), calls its default export with the request snapshot and
 * turns the result into a plain `{ status, headers, body }`. JSON is serialised here, in the
 * worker, so the main thread only copies bytes.
 */
import type { OffloadHandlerJob, OffloadRequest, OffloadResponse } from './offload-handler.ts';


type Handler = (req: OffloadRequest) => unknown;

export default async function runHandler(job: OffloadHandlerJob): Promise<OffloadResponse> {
  const mod = (await import(job.moduleUrl)) as { default?: unknown };
  if (typeof mod.default !== 'function') {
    throw new TypeError(`${job.moduleUrl} has no default export function; export default (req) => result.`);
  }
  const result = await (mod.default as Handler)(job.request);
  return normalize(result);
}

const RESPONSE_KEYS = new Set(['status', 'headers', 'body']);

function isResponseShape(value: object): value is { status: number; headers?: Record<string, string>; body?: unknown } {
  const keys = Object.keys(value);
  return typeof (value as { status?: unknown }).status === 'number' && keys.every((k) => RESPONSE_KEYS.has(k));
}

function normalize(result: unknown): OffloadResponse {
  if (typeof result === 'string') {
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: result };
  }
  if (result !== null && typeof result === 'object' && !Array.isArray(result) && isResponseShape(result)) {
    const headers = { ...(result.headers ?? {}) };
    const body = result.body;
    if (body === undefined || body === null) return { status: result.status, headers, body: '' };
    if (typeof body === 'string' || body instanceof Uint8Array) return { status: result.status, headers, body };
    headers['content-type'] ??= 'application/json; charset=utf-8';
    return { status: result.status, headers, body: JSON.stringify(body) };
  }
  if (result !== null && typeof result === 'object') {
    return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(result) };
  }
  throw new TypeError(
    `The offloaded handler returned ${result === null ? 'null' : typeof result}; ` +
      'return a string, a plain object (sent as JSON) or { status, headers, body }.',
  );
}
