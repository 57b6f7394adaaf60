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
export type { Handler, BeforeHook, AfterHook, TeardownHook, ErrorHandler, RouteOptions, Reply } from './handlers.ts';
export type { Converter } from './router.ts';

// Plugins: the seam every feature joins through (docs/plugins.md)
export { definePlugin } from './plugin.ts';
export type {
  Plugin, PluginDefinition, PluginRegistrar, PluginAppView, RouteView, RouteHooks, UnmatchedInfo, UnmatchedHook,
  ResponseHeaderSet, ServerHook, PluginLifecycleHook, RouteOptionCheck,
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

// Rate limits and login brute-force protection (docs/ratelimit.md)
export { rateLimit, MemoryRateLimitStore, RedisRateLimitStore } from './ratelimit/index.ts';
export type {
  RateLimitOptions, LimitOptions, LoginOptions, LoginRouteOption, RateLimitRouteOption, RateLimitKey, RateLimitStore,
  StoreErrorMode, MemoryRateLimitStoreOptions, RedisRateLimitStoreOptions, RateDecision, GcraPolicy,
} from './ratelimit/index.ts';

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
export type { G, SessionLike, RouteInfo, ContextDecorations, Flash } from './context.ts';
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
export type { VialErrorCode, VialErrorCodes } from './error-codes.ts';

// Config
export type { VialOptions, VialConfig, CoreOptions, BodyOptions, LogOptions, AdminConfigOptions, VialEnv } from './config.ts';

// Memory: bounded caches and what shows a leak
export { BoundedCache } from './memory/bounded-cache.ts';
export type { BoundedCacheOptions } from './memory/bounded-cache.ts';
export { cacheRegistry } from './memory/registry.ts';
export type { CacheStats } from './memory/registry.ts';
export { createAllocationSampler, diffAllocationSnapshots } from './memory/allocation.ts';
export type { AllocationSampler, AllocationSite, AllocationSnapshot, AllocationDiff } from './memory/allocation.ts';
export { createLeakAlarm } from './memory/leak-alarm.ts';
export type { LeakAlarm, LeakAlarmEvent } from './memory/leak-alarm.ts';
export { takeHeapSnapshot } from './memory/heap-snapshot.ts';
export type { HeapSnapshotOptions, HeapSnapshotResult } from './memory/heap-snapshot.ts';
export type { MemoryOptions } from './memory/options.ts';

// Load: admission, bulkheads, deadlines, offload
export { Bulkhead, BulkheadFullError } from './load/bulkhead.ts';
export type { BulkheadOptions, BulkheadStats } from './load/bulkhead.ts';
export { OffloadQueueFullError } from './load/offload.ts';
export type { OffloadRequest, OffloadResponse } from './load/offload-handler.ts';
export type { AdmissionSnapshot, ShedReason } from './load/admission.ts';
export type { LoadOptionsInput as LoadOptions } from './load/options.ts';

// Security: sessions, CSRF, secrets
export { MemorySessionStore } from './security/stores/memory.ts';
export { SqliteSessionStore } from './security/stores/sqlite.ts';
export { RedisSessionStore } from './security/stores/redis.ts';
export type { SessionStore, SessionRecord } from './security/stores/contract.ts';
export { checkSecret } from './security/secret.ts';
export { CSRF_FORM_FIELD, CSRF_HEADER } from './security/csrf.ts';
export type { CsrfReason } from './security/csrf.ts';
export type { SecurityOptions, SessionOptions, CsrfOptions } from './security/options.ts';

// Seeing it live: the admin listener and the request events it and the logs are built on
export { startAdmin } from './admin/server.ts';
export type { StartAdminOptions } from './admin/server.ts';
export type { RunningAdmin } from './admin/http.ts';
export type { Metrics } from './observe/metrics.ts';
export type { RequestEvent } from './request-events.ts';

// Traces and logs as teams run them: OpenTelemetry, trace ids and redaction in log lines (docs/telemetry.md)
export { traceHeaders, traceLogFields } from './telemetry/index.ts';
export type { TraceLogFields } from './telemetry/index.ts';
export { REDACT_PATHS } from './telemetry/logger.ts';

// Process model
export type { ProcessOptions } from './process/options.ts';
export type { WatchdogOptions } from './process/watchdog-options.ts';
export type { BlockReport, BlockFrame } from './process/block-report.ts';

// WebSockets (docs/websocket.md)
export { websocket, websocketStats, WebSocketConnection, Broadcast, redisTransport, wsChannel } from './websocket/index.ts';
export type {
  WebSocketPluginInput,
  WebSocketStats,
  WebSocketMessage,
  BroadcastMessage,
  BroadcastOptions,
  BroadcastStats,
  BroadcastTransport,
  RedisTransport,
  RedisTransportOptions,
  Subscriber,
  RedisTransportStats,
  WebSocketInput,
  WebSocketRouteLimits,
  WebSocketEvent,
} from './websocket/index.ts';
