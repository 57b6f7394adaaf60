/**
 * A route option that runs the whole handler in the offload pool: gunicorn's sync-worker
 * model done right (bounded threads, a bounded queue, cancellation), for handlers that are
 * CPU work from start to end. The handler sees a structured-clone-safe snapshot of the
 * request, never the socket or ctx.
 */
import { pathToFileURL } from 'node:url';
import { VialError } from '../errors.ts';
import type { OffloadPool } from './offload.ts';

export interface OffloadRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  /** Query entries in order, repeated keys kept (URLSearchParams does not survive cloning). */
  query: [string, string][];
  headers: Record<string, string | string[]>;
  body?: Uint8Array | string;
}

/** What the pool runs: the route's module and the snapshot (offload-worker.ts). */
export interface OffloadHandlerJob {
  moduleUrl: string;
  request: OffloadRequest;
}

export interface OffloadResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** What the snapshot reads of a request (VialRequest has it all). */
export interface SnapshotSource {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly raw: { readonly headers: Readonly<Record<string, string | string[] | undefined>> };
  bytes(): Promise<Buffer>;
}

/**
 * The structured-clone-safe copy of a request a worker route sees: the body read in full (within
 * the route's body limit), params as strings, and no cookie header (the session stays on the main
 * thread).
 */
export async function snapshotRequest(request: SnapshotSource): Promise<OffloadRequest> {
  const hasBody = request.raw.headers['content-length'] !== undefined || request.raw.headers['transfer-encoding'] !== undefined;
  const body = hasBody ? new Uint8Array(await request.bytes()) : undefined;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined && name !== 'cookie') headers[name] = value;
  return {
    method: request.method,
    path: request.path,
    params: Object.fromEntries(Object.entries(request.params).map(([k, v]) => [k, String(v)])),
    query: [...request.query],
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

// After `tsc` the worker is a .js file next to this one; under type stripping it is the .ts.
const WORKER = new URL(import.meta.url.endsWith('.ts') ? './offload-worker.ts' : './offload-worker.js', import.meta.url);

/**
 * Runs `moduleUrl`'s default export in the pool. Errors thrown by the handler become a 500
 * VialError (not exposed) with the worker's error as `cause`; a full pool rejects with
 * VIAL_ERR_OFFLOAD_QUEUE_FULL (503); an aborted signal rejects with the abort reason.
 */
export async function runOffloadedHandler(
  pool: OffloadPool,
  moduleUrl: string | URL,
  snapshot: OffloadRequest,
  signal?: AbortSignal,
): Promise<OffloadResponse> {
  const job: OffloadHandlerJob = { moduleUrl: toModuleUrl(moduleUrl), request: snapshot };
  try {
    return await pool.run<OffloadResponse>({ filename: WORKER }, job, signal === undefined ? {} : { signal });
  } catch (error) {
    if (error instanceof VialError || signal?.aborted === true) throw error;
    throw new VialError(
      'VIAL_ERR_OFFLOAD_HANDLER_FAILED',
      `The offloaded handler ${job.moduleUrl} failed in its worker thread: ${String((error as Error).message)}`,
      { status: 500, expose: false, cause: error },
    );
  }
}

// A bare path would be resolved against the worker's own URL by import(); make it absolute here.
function toModuleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  return /^(file|data):/.test(module) ? module : pathToFileURL(module).href;
}
