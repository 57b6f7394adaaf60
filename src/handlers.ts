/**
 * What user code is, as types: handlers, hooks, error handlers and route options. A leaf of the
 * registration layer: scaffold.ts, route-types.ts and plugin.ts build on it. Types only.
 */
import type { Context } from './context.ts';
import type { VialResponse } from './response.ts';

/**
 * What a handler may return: a string (HTML), a plain object or array (JSON), `null` (204),
 * a `Response`, a `VialResponse`, bytes, an async iterable (streamed), or `html`/`json`/`redirect`
 * helpers' results. Typed loosely on purpose: the return value is inspected at run time.
 */
export type Reply = string | object | null | undefined;

export type Handler = (ctx: Context) => Reply | Promise<Reply>;
/** Runs before the handler. Returning anything but `undefined` short-circuits: it becomes the reply. */
export type BeforeHook = (ctx: Context) => Reply | void | Promise<Reply | void>;
/** Runs after the handler with its response; may change it or return a replacement. */
export type AfterHook = (ctx: Context, response: VialResponse) => VialResponse | void | Promise<VialResponse | void>;
/** Always runs, after errors too; receives the error if the request failed. */
export type TeardownHook = (ctx: Context, error: unknown) => void | Promise<void>;
export type ErrorHandler<E = unknown> = (error: E, ctx: Context) => Reply | Promise<Reply>;
export type ErrorClass = abstract new (...args: never[]) => Error;

export interface RouteOptions {
  /** Name for `urlFor`. Default: the handler's function name, if it has one. */
  name?: string;
  /** Deadline for this route (default: the app's `load.requestTimeoutMs`). */
  timeoutMs?: number;
  /** Bulkhead: how many requests of this route run at once (default: a share of the process limit). */
  concurrency?: number;
  /** Bulkhead queue length for this route. */
  maxQueue?: number;
  /** Largest body this route reads (default: `body.maxBytes`). */
  maxBodyBytes?: number;
  /** `false` exempts this route from CSRF checks (e.g. a webhook verified by signature). Visible on purpose. */
  csrf?: boolean;
  /**
   * Run the handler in the worker-thread pool: a module URL whose default export takes a
   * serialisable request snapshot. For CPU-bound routes that would otherwise block the event loop.
   */
  worker?: URL | string;
}
