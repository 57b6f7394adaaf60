/**
 * Configuration: defaults with bounds, `VIAL_*` environment, validation. `resolveConfig()` runs once,
 * in `new Vial()`, and returns a deep-frozen object; each module gets its own slice and per-request
 * code never re-reads options. Pure: reads only the `env` object and the `system` limits it is given
 * (by default the open-file limit, read once per process by load/connections.ts).
 */
import type { CompressionOptions } from './compression/options.ts';
import type { ConditionalOptions } from './conditional/options.ts';
import type { DestinationStream, Logger } from 'pino';
import { ConfigError } from './errors.ts';
import { systemLimits } from './load/connections.ts';
import { resolveLoadOptions } from './load/options.ts';
import type { LoadOptions, LoadOptionsInput, SystemLimits } from './load/options.ts';
import { resolveMemoryOptions } from './memory/options.ts';
import type { MemoryOptions, ResolvedMemoryOptions } from './memory/options.ts';
import { resolveProcessOptions } from './process/options.ts';
import type { ProcessOptions, ResolvedProcessOptions } from './process/options.ts';
import { resolveWatchdogOptions } from './process/watchdog-options.ts';
import type { WatchdogOptions } from './process/watchdog-options.ts';
import { resolveAllowedHosts } from './security/hosts.ts';
import { resolveSecurityOptions } from './security/options.ts';
import { resolveTrustProxy } from './security/proxy.ts';
import type { ResolvedTrustProxy, TrustProxyOption } from './security/proxy.ts';
import type { ResolvedSecurityOptions, SecurityOptions } from './security/options.ts';
import { inBounds } from './internal/bounds.ts';

export type VialEnv = 'production' | 'development' | 'test';

export interface BodyOptions {
  /** Largest request body read by `json()`, `text()`, `bytes()` and urlencoded `form()`. */
  maxBytes?: number;
  /** Deepest nesting accepted in a JSON body; deeper bodies get 400 (stack exhaustion guard). */
  maxJsonDepth?: number;
  /** Multipart: the most parts (fields + files) and the largest single file. */
  maxParts?: number;
  maxFileBytes?: number;
  /** Multipart: the largest non-file field value. */
  maxFieldBytes?: number;
}

export interface LogOptions {
  /** pino level; `silent` turns logging off. */
  level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * One log line per request (reqId, method, route, status, durationMs). Default: on in
   * development, off in production, where it costs ~10 µs a request (pino serialising a line):
   * turn it on with `VIAL_LOG_REQUESTS=1` when you ship logs.
   */
  requests?: boolean;
  /**
   * When responses carry `x-request-id` (the id in every log line of the request): `errors`
   * (default: 4xx and 5xx, where a user quotes it in a report), `always`, or `never`.
   * VIAL_REQUEST_ID_HEADER.
   */
  requestIdHeader?: 'errors' | 'always' | 'never';
  /**
   * Your own pino logger: vial logs through `logger.child({}, { redact })`, at your logger's level
   * (`level` is not applied). Not frozen with the config. docs/telemetry.md#logs.
   */
  logger?: Logger;
  /** Where vial's own logger writes: `pino.destination(...)`, `pino.transport({ targets })`. Not with `logger`. */
  destination?: DestinationStream;
  /**
   * pino redact paths added to vial's defaults (Authorization, Cookie, Set-Cookie, the CSRF header
   * and field, password-like fields: REDACT_PATHS); `false` turns redaction off.
   */
  redact?: readonly string[] | false;
}

export interface AdminConfigOptions {
  /** Start the admin listener with `listen()`. Default false for `app.listen()`; `vial run` turns it on. */
  enabled?: boolean;
  /** Default 127.0.0.1. Any other address requires `token`. */
  host?: string;
  /** Default 9464 (VIAL_ADMIN_PORT). */
  port?: number;
  /** Bearer token (VIAL_ADMIN_TOKEN); required off loopback. */
  token?: string;
}

export interface CoreOptions {
  /** `production` turns on the strict checks (secrets, HSTS). Default: VIAL_ENV, then NODE_ENV, then `development`. */
  env?: VialEnv;
  /** Used in logs and metrics. */
  name?: string;
  port?: number;
  host?: string;
  /** The app's own origin (`https://app.example.com`), used by CSRF and redirects. Default: derived from Host. */
  origin?: string;
  body?: BodyOptions;
  log?: LogOptions;
  /** The admin listener: metrics, health, caches, allocation sites, loop blocks, dashboard (docs/admin.md). */
  admin?: AdminConfigOptions;
  /**
   * The Host values this app answers for (Django's ALLOWED_HOSTS): `app.example.com`, `.example.com`
   * (and subdomains), an IP, or `*`. Other hosts get 400. Default: the host of `origin`; required in
   * production when `origin` is not set. VIAL_ALLOWED_HOSTS (comma-separated). docs/security.md.
   */
  allowedHosts?: readonly string[];
  /**
   * Proxies in front whose `Forwarded` / `X-Forwarded-For`/`-Proto`/`-Host` are believed: a hop
   * count (`1`, or `true`, for one proxy) or the proxies' addresses and CIDR ranges. Default false:
   * those headers are ignored. VIAL_TRUST_PROXY (a count, or a comma-separated list). docs/security.md.
   */
  trustProxy?: TrustProxyOption;
}

export interface CoreConfig {
  readonly env: VialEnv;
  readonly production: boolean;
  readonly name: string;
  readonly port: number;
  readonly host: string;
  readonly origin: string | undefined;
  /** undefined: any well-formed Host is served (development and test without a list or origin). */
  readonly allowedHosts: readonly string[] | undefined;
  readonly trustProxy: ResolvedTrustProxy;
  readonly body: Readonly<Required<BodyOptions>>;
  readonly log: Readonly<Required<Omit<LogOptions, 'logger' | 'destination'>>>;
  readonly admin: Readonly<{ enabled: boolean; host: string; port: number; token: string | undefined }>;
}

const MiB = 1024 * 1024;

export const BODY_DEFAULTS: Readonly<Required<BodyOptions>> = Object.freeze({
  maxBytes: MiB,
  maxJsonDepth: 64,
  maxParts: 100,
  maxFileBytes: 10 * MiB,
  maxFieldBytes: 64 * 1024,
});

type Env = Readonly<Record<string, string | undefined>>;

/** The VIAL_* variables (and NODE_ENV) that are set; an empty value counts as unset (`VIAL_PORT= cmd`). */
function relevantEnv(env: Env): Env {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if ((name.startsWith('VIAL_') || name === 'NODE_ENV') && value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

export function resolveCoreOptions(options: CoreOptions = {}, rawEnv: Env = process.env): CoreConfig {
  const env = relevantEnv(rawEnv);
  const envName = options.env ?? parseEnvName(env['VIAL_ENV'] ?? env['NODE_ENV']);
  const body = { ...BODY_DEFAULTS, ...options.body };
  const envMaxBody = env['VIAL_MAX_BODY_BYTES'];
  if (options.body?.maxBytes === undefined && envMaxBody !== undefined) body.maxBytes = intFromEnv('VIAL_MAX_BODY_BYTES', envMaxBody);
  for (const [key, value] of Object.entries(body)) positiveInt(`body.${key}`, value);

  const port = options.port ?? (env['VIAL_PORT'] !== undefined ? intFromEnv('VIAL_PORT', env['VIAL_PORT']) : 5000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('VIAL_ERR_CONFIG', `port must be an integer from 0 to 65535, got ${String(port)}.`);
  }
  const origin = options.origin ?? env['VIAL_ORIGIN'];
  if (origin !== undefined) checkOrigin(origin);

  const level = options.log?.level ?? (env['VIAL_LOG_LEVEL'] as LogOptions['level']) ?? (envName === 'test' ? 'silent' : 'info');
  const requests = options.log?.requests ?? (env['VIAL_LOG_REQUESTS'] === undefined ? envName === 'development' : env['VIAL_LOG_REQUESTS'] === '1');
  const requestIdHeader = options.log?.requestIdHeader ?? parseRequestIdHeader(env['VIAL_REQUEST_ID_HEADER']);
  const adminPort = options.admin?.port ?? (env['VIAL_ADMIN_PORT'] === undefined ? 9464 : intFromEnv('VIAL_ADMIN_PORT', env['VIAL_ADMIN_PORT']));
  return deepFreeze({
    env: envName,
    production: envName === 'production',
    name: options.name ?? env['VIAL_NAME'] ?? 'vial',
    port,
    host: options.host ?? env['VIAL_HOST'] ?? '127.0.0.1',
    origin: origin === undefined ? undefined : new URL(origin).origin,
    allowedHosts: resolveHosts(options.allowedHosts, env['VIAL_ALLOWED_HOSTS'], origin, envName),
    trustProxy: resolveTrustProxy(options.trustProxy, env['VIAL_TRUST_PROXY']),
    body,
    log: { level, requests, requestIdHeader, redact: resolveRedact(options.log) },
    admin: {
      enabled: options.admin?.enabled ?? env['VIAL_ADMIN'] === '1',
      host: options.admin?.host ?? env['VIAL_ADMIN_HOST'] ?? '127.0.0.1',
      port: adminPort,
      token: options.admin?.token ?? env['VIAL_ADMIN_TOKEN'],
    },
  });
}

function resolveHosts(option: readonly string[] | undefined, envValue: string | undefined, origin: string | undefined, envName: VialEnv): readonly string[] | undefined {
  const entries = option ?? envValue?.split(',').filter((entry) => entry.trim() !== '');
  if (entries !== undefined) {
    if (entries.length === 0) throw new ConfigError('VIAL_ERR_CONFIG', 'allowedHosts is empty, so every request would be refused. List the hosts this app serves, or use ["*"] to serve any.');
    return resolveAllowedHosts(entries);
  }
  if (origin !== undefined) return resolveAllowedHosts([new URL(origin).hostname]);
  if (envName === 'production') {
    throw new ConfigError(
      'VIAL_ERR_ALLOWED_HOSTS',
      'In production vial needs to know which Host values it serves (DNS rebinding and Host-header poisoning otherwise reach the app). ' +
        "Set origin ('https://app.example.com', VIAL_ORIGIN) or allowedHosts (['app.example.com'], VIAL_ALLOWED_HOSTS); ['*'] serves any host on purpose.",
    );
  }
  return undefined;
}

function resolveRedact(log: LogOptions | undefined): readonly string[] | false {
  if (log?.logger !== undefined && log.destination !== undefined) {
    throw new ConfigError('VIAL_ERR_CONFIG', 'log.logger and log.destination cannot both be set: give your logger its destination, or let vial create the logger with log.destination.');
  }
  const redact = log?.redact;
  if (redact === undefined || redact === false) return redact ?? [];
  const paths: readonly unknown[] = Array.isArray(redact) ? redact : [redact];
  if (!Array.isArray(redact) || paths.some((path) => typeof path !== 'string' || path === '')) {
    throw new ConfigError('VIAL_ERR_CONFIG', 'log.redact takes pino redact paths (["body.ssn", "*.cardNumber"]) or false.');
  }
  return paths as readonly string[];
}

function parseEnvName(value: string | undefined): VialEnv {
  if (value === undefined || value === '') return 'development';
  if (value === 'production' || value === 'development' || value === 'test') return value;
  throw new ConfigError('VIAL_ERR_CONFIG', `VIAL_ENV/NODE_ENV must be production, development or test, got "${value}".`);
}

function parseRequestIdHeader(value: string | undefined): 'errors' | 'always' | 'never' {
  if (value === undefined || value === 'errors' || value === 'always' || value === 'never') return value ?? 'errors';
  throw new ConfigError('VIAL_ERR_CONFIG', `VIAL_REQUEST_ID_HEADER must be errors, always or never, got "${value}".`);
}

function intFromEnv(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ConfigError('VIAL_ERR_CONFIG', `${name} must be an integer, got "${value}".`);
  return n;
}

export function positiveInt(name: string, value: unknown): void {
  inBounds(value, { name, min: 1, max: Number.MAX_SAFE_INTEGER }, (message) => new ConfigError('VIAL_ERR_CONFIG', message));
}

function checkOrigin(origin: string): void {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new ConfigError('VIAL_ERR_CONFIG', `origin must be an absolute URL like https://app.example.com, got "${origin}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('VIAL_ERR_CONFIG', `origin must use http or https, got "${origin}".`);
  }
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Everything `new Vial(options)` accepts. Each group has its own defaults; see the docs of each folder. */
export interface VialOptions extends CoreOptions {
  /** Admission, bulkheads, deadlines, event-loop pressure, offload pool, server limits (docs/load.md). */
  load?: LoadOptionsInput;
  /** Allocation sampling, leak alarm, heap snapshots (docs/memory.md). */
  memory?: MemoryOptions;
  /** Sessions, CSRF, security headers, secrets (docs/sessions.md, docs/csrf.md). */
  security?: SecurityOptions;
  /** Workers, recycling, heartbeats, graceful shutdown (docs/process.md). */
  process?: ProcessOptions;
  /** The blocked-event-loop watchdog (docs/watchdog.md). */
  watchdog?: Partial<WatchdogOptions>;
  /** Response compression, on by default for compressible bodies of 1 KiB or more (docs/compression.md); `false` turns it off. */
  compression?: CompressionOptions | false;
  /** Weak ETags and 304/412 for buffered GET replies of 1 KiB or more, on by default (docs/conditional.md); `false` turns it off. */
  conditional?: ConditionalOptions | false;
}

export interface VialConfig extends CoreConfig {
  readonly load: Readonly<LoadOptions>;
  readonly memory: ResolvedMemoryOptions;
  readonly security: ResolvedSecurityOptions;
  readonly process: ResolvedProcessOptions;
  readonly watchdog: Readonly<WatchdogOptions>;
}

/**
 * Resolves every slice once. `VIAL_*` variables cover what operators change at deploy time:
 * VIAL_ENV, VIAL_PORT, VIAL_HOST, VIAL_ORIGIN, VIAL_ALLOWED_HOSTS, VIAL_TRUST_PROXY, VIAL_SECRET_KEY, VIAL_MAX_BODY_BYTES,
 * VIAL_MAX_IN_FLIGHT, VIAL_REQUEST_TIMEOUT_MS, VIAL_MAX_CONNECTIONS, VIAL_WORKERS, VIAL_LOG_LEVEL, VIAL_LOG_REQUESTS,
 * VIAL_ADMIN (1 starts the admin listener), VIAL_ADMIN_HOST, VIAL_ADMIN_PORT, VIAL_ADMIN_TOKEN.
 */
export function resolveConfig(options: VialOptions = {}, rawEnv: Env = process.env, system: SystemLimits = systemLimits()): VialConfig {
  const env = relevantEnv(rawEnv);
  const core = resolveCoreOptions(options, env);
  const load: LoadOptionsInput = { ...options.load };
  if (options.load?.admission?.maxInFlight === undefined && env['VIAL_MAX_IN_FLIGHT'] !== undefined) {
    load.admission = { ...options.load?.admission, maxInFlight: intFromEnv('VIAL_MAX_IN_FLIGHT', env['VIAL_MAX_IN_FLIGHT']) };
  }
  if (options.load?.deadlines?.requestTimeoutMs === undefined && env['VIAL_REQUEST_TIMEOUT_MS'] !== undefined) {
    load.deadlines = { ...options.load?.deadlines, requestTimeoutMs: intFromEnv('VIAL_REQUEST_TIMEOUT_MS', env['VIAL_REQUEST_TIMEOUT_MS']) };
  }
  if (options.load?.server?.maxConnections === undefined && env['VIAL_MAX_CONNECTIONS'] !== undefined) {
    load.server = { ...options.load?.server, maxConnections: intFromEnv('VIAL_MAX_CONNECTIONS', env['VIAL_MAX_CONNECTIONS']) };
  }
  const security: SecurityOptions = { ...options.security };
  const envSecret = env['VIAL_SECRET_KEY'];
  if (security.secretKey === undefined && security.secretKeys === undefined && envSecret !== undefined && envSecret !== '') {
    (security as { secretKey?: string }).secretKey = envSecret;
  }
  // The app's own origin is what CSRF compares Origin with, unless CSRF names its own.
  if (core.origin !== undefined && security.csrf?.appOrigin === undefined) {
    (security as { csrf?: SecurityOptions['csrf'] }).csrf = { ...security.csrf, appOrigin: core.origin };
  }
  const processOptions: ProcessOptions = { ...options.process };
  if (processOptions.workers === undefined && env['VIAL_WORKERS'] !== undefined) {
    (processOptions as { workers?: number }).workers = intFromEnv('VIAL_WORKERS', env['VIAL_WORKERS']);
  }
  const https = core.origin?.startsWith('https:') ?? core.production;
  return deepFreeze({
    ...core,
    load: resolveLoadOptions(load, system),
    memory: resolveMemoryOptions(options.memory),
    security: resolveSecurityOptions(security, { production: core.production, https }),
    process: resolveProcessOptions(processOptions),
    watchdog: resolveWatchdogOptions(options.watchdog),
  });
}
