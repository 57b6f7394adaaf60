/**
 * vial's public surface: explicit named re-exports, grouped by topic. A test snapshots this list
 * (test/exports.test.ts) so nothing is exported by accident.
 */

// App and registration
export { Vial } from './app.ts';
export type { ListenOptions, RunningServer, LifecycleHook } from './app.ts';
export type { TlsOptions } from './tls/index.ts';
export { Blueprint } from './blueprint.ts';
export type { BlueprintOptions } from './blueprint.ts';
export type { Handler, BeforeHook, AfterHook, TeardownHook, ErrorHandler, RouteOptions, Reply } from './scaffold.ts';
export type { Converter } from './router.ts';

// Plugins: the seam every feature joins through (docs/plugins.md)
export { definePlugin } from './plugin.ts';
export type {
  Plugin, PluginDefinition, PluginRegistrar, PluginAppView, RouteView, RouteHooks, UnmatchedInfo, UnmatchedHook,
  ResponseHeaderSet, ServerHook, PluginLifecycleHook, RouteOptionCheck, ContextDecorations,
} from './plugin.ts';
export { typedChannel } from './internal/channels.ts';

// HTTP essentials, each a plugin in its own folder (docs/cors.md, ...)
export { cors } from './cors/index.ts';
export type { CorsOptions, CorsRouteOption } from './cors/index.ts';
export { conditional, checkPreconditions } from './conditional/index.ts';
export type { ConditionalOptions } from './conditional/index.ts';
export type { Validators } from './conditional/validators.ts';
export { compression } from './compression/index.ts';
export type { CompressionOptions, Encoding } from './compression/index.ts';
export { staticFiles } from './static/index.ts';
export type { StaticOptions } from './static/index.ts';
export type { TypedChannel } from './internal/channels.ts';

// Schemas: validation, typed ctx.valid, response checks (docs/schemas.md)
export { schemas } from './schema/plugin.ts';
export type { SchemasInput, SchemasOptions, ResponseMode } from './schema/plugin.ts';
export { ResponseValidationError } from './schema/response-error.ts';
export type { RouteSchema, Valid, ValidParts, SchemaInput, SchemaOutput, JsonSchemaTypes, TypedJsonSchema } from './schema/types.ts';
export type { AnySchema, JsonSchema } from './schema/compile.ts';
export type { ValidationIssue, SchemaPart } from './schema/issues.ts';
export type { ProblemDetails, ProblemIssue } from './schema/problem.ts';
export type { OpenApiInput } from './openapi/serve.ts';
export type { RouteDocs, DocumentInfo } from './openapi/document.ts';
export type { ConverterTypes, PathParams, RouteContext, RouteEntry, RoutesOf } from './route-types.ts';

// Request context
export { Context, g, request, session } from './context.ts';
export type { G, SessionLike, RouteInfo, Flash } from './context.ts';
export type { UrlForOptions, UrlForQuery } from './urls.ts';
export type { CookieOptions, SetCookie, ClearCookie, SignedCookie } from './cookies/index.ts';
export { VialRequest, FormBody } from './request.ts';
export type { UploadedFile } from './request.ts';

// Responses
export { VialResponse, json, redirect, sendFile, sse } from './response.ts';
export type { Body, HeaderMap, RedirectOptions, ServerSentEvent } from './response.ts';
export { html, raw, escapeHtml, SafeHtml } from './html.ts';

// Errors
export { VialError, HttpError, ConfigError, ContextError, BadRequestError, ClientGoneError, DeadlineError, abort } from './errors.ts';

// Config
export type { VialOptions, VialConfig, CoreOptions, BodyOptions, LogOptions, AdminConfigOptions, VialEnv } from './config.ts';

// Memory: bounded caches and what shows a leak
export { BoundedCache, cacheRegistry, createAllocationSampler, diffAllocationSnapshots, createLeakAlarm, takeHeapSnapshot } from './memory/index.ts';
export type {
  BoundedCacheOptions, CacheStats, AllocationSampler, AllocationSite, AllocationSnapshot, AllocationDiff, LeakAlarm, LeakAlarmEvent,
  MemoryOptions, HeapSnapshotOptions, HeapSnapshotResult,
} from './memory/index.ts';

// Load: admission, bulkheads, deadlines, offload
export { Bulkhead, BulkheadFullError, OffloadQueueFullError } from './load/index.ts';
export type { BulkheadOptions, BulkheadStats, LoadOptionsInput as LoadOptions, AdmissionSnapshot, OffloadRequest, OffloadResponse, ShedReason } from './load/index.ts';
export { lateHandlers, requestChannel } from './dispatch.ts';

// Security: sessions, CSRF, secrets
export { MemorySessionStore, SqliteSessionStore, RedisSessionStore, checkSecret, CSRF_FORM_FIELD, CSRF_HEADER } from './security/index.ts';
export type { SecurityOptions, SessionOptions, CsrfOptions, SessionStore, SessionRecord, CsrfReason } from './security/index.ts';

// Seeing it live: admin listener, metrics, request logs
export { startAdmin, startPrimaryAdmin, serveWorkerMetrics } from './admin/index.ts';
export type { StartAdminOptions, PrimaryAdminOptions, RunningAdmin } from './admin/index.ts';
export { createMetrics, installRequestLog, prettyDestination } from './observe/index.ts';
export type { Metrics, RequestLog } from './observe/index.ts';

// Process model
export type { ProcessOptions } from './process/index.ts';
export type { WatchdogOptions, BlockReport, BlockFrame } from './process/watchdog.ts';
