/**
 * vial's public surface: explicit named re-exports, grouped by topic. A test snapshots this list
 * (test/exports.test.ts) so nothing is exported by accident.
 */

// App and registration
export { Vial } from './app.ts';
export type { VialOptions, ListenOptions, RunningServer, LifecycleHook } from './app.ts';
export { Blueprint } from './blueprint.ts';
export type { BlueprintOptions } from './blueprint.ts';
export type { Handler, BeforeHook, AfterHook, TeardownHook, ErrorHandler, RouteOptions, Reply } from './scaffold.ts';
export type { Converter } from './router.ts';

// Request context
export { Context, g, request, session } from './context.ts';
export type { G, SessionLike, RouteInfo } from './context.ts';
export { VialRequest, FormBody } from './request.ts';
export type { UploadedFile } from './request.ts';

// Responses
export { VialResponse, json, redirect, sendFile, sse } from './response.ts';
export type { Body, HeaderMap, RedirectOptions, ServerSentEvent } from './response.ts';
export { html, raw, escapeHtml, SafeHtml } from './html.ts';

// Errors
export { VialError, HttpError, ConfigError, ContextError, BadRequestError, abort } from './errors.ts';

// Config
export type { CoreOptions, BodyOptions, LogOptions, VialEnv } from './config.ts';
