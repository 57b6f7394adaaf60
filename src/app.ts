/**
 * Vial: options -> frozen config, assembly of the pieces, listen and close. Thin on purpose: the
 * request lifecycle lives in dispatch.ts, registration in scaffold.ts and route-table.ts.
 */
import type { RefusalStyle } from './error-response.ts';
import { buildPlainHeads } from './response.ts';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Blueprint, normalizePrefix } from './blueprint.ts';
import { resolveConfig } from './config.ts';
import type { VialConfig, VialOptions } from './config.ts';
import type { Context, ContextServices } from './context.ts';
import { createDispatcher } from './dispatch.ts';
import type { Dispatcher } from './dispatch.ts';
import { ConfigError } from './errors.ts';
import { peekContext } from './context.ts';
import type { RouteGate } from './load/admission.ts';
import { createLoadProtection } from './load/protection.ts';
import type { LoadProtection } from './load/protection.ts';
import { listenWithAcceptors } from './load/acceptors.ts';
import { applyConnectionLimits, applyServerLimits, serverOptions } from './load/server-limits.ts';
import { Monitors } from './monitors.ts';
import { installClientErrorHandler } from './client-error.ts';
import { startAdmin } from './admin/server.ts';
import type { RunningAdmin } from './admin/http.ts';
import { createSecurityLayer } from './security/layer.ts';
import type { SecurityLayer } from './security/layer.ts';
import { BUILTIN_CONVERTERS } from './router.ts';
import type { Converter } from './router.ts';
import { buildRouteTable, urlFor } from './route-table.ts';
import type { Mount, RouteRecord, RouteTable } from './route-table.ts';
import { Scaffold } from './scaffold.ts';
import type { Mounted, PrefixOf } from './route-types.ts';
import type { Plugin } from './plugin.ts';
import { PluginHost } from './plugin-host.ts';
import { securityHeaders } from './security/headers-plugin.ts';
import { compression } from './compression/index.ts';
import { conditional } from './conditional/index.ts';
import { rateLimit } from './ratelimit/index.ts';
import { expectContinue } from './security/continue.ts';
import { cookies } from './cookies/index.ts';
import { createSecureServer } from './tls/index.ts';
import type { TlsOptions } from './tls/index.ts';
import type { Http2SecureServer } from 'node:http2';
import { requestOrigin, splitUrlForArgument } from './urls.ts';
import type { UrlForOptions, UrlForQuery } from './urls.ts';
import { requestLog } from './observe/request-log.ts';
import { telemetry } from './telemetry/index.ts';
import { createAppLogger } from './telemetry/logger.ts';

export type { VialOptions } from './config.ts';

export type LifecycleHook = (app: Vial) => void | Promise<void>;

export interface ListenOptions {
  port?: number;
  host?: string;
  /** Serve HTTPS, with HTTP/2 and HTTP/1.1 fallback over ALPN (docs/https.md). */
  tls?: TlsOptions;
  /**
   * For this listen, instead of `config.admin`: `vial run` passes its `--admin-port` and
   * `--no-admin` here (explicit arguments rather than environment the app would read back).
   */
  admin?: { readonly enabled?: boolean; readonly port?: number };
}

export interface RunningServer {
  /** An http.Server, or with `tls` node:http2's secure server (which serves HTTP/1.1 requests the same way). */
  readonly server: Server;
  /** `http://127.0.0.1:5000`, or `https://...` with `tls` */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, runs shutdown hooks, closes idle connections; resolves when the server closed. */
  close(): Promise<void>;
}

export class Vial extends Scaffold {
  readonly config: VialConfig;
  readonly log: Logger;
  /** Admission, deadlines, event-loop pressure and the offload pool (docs/load.md). */
  readonly load: LoadProtection;
  readonly security: SecurityLayer;
  /** The watchdog, allocation sampler, leak alarm and metrics, for the admin surface (monitors.ts). */
  readonly monitors: Monitors;
  readonly #mounts: Mount[] = [];
  readonly #converters: Record<string, Converter> = { ...BUILTIN_CONVERTERS };
  readonly #startup: LifecycleHook[] = [];
  readonly #shutdown: LifecycleHook[] = [];
  #table: RouteTable | undefined;
  #dispatcher: Dispatcher | undefined;
  #started: Promise<void> | undefined;
  readonly #plugins: PluginHost;

  constructor(options: VialOptions = {}) {
    super();
    this.config = resolveConfig(options);
    // vial's own pino, or the team's logger or destination; redacted, with trace ids (telemetry/logger.ts).
    this.log = createAppLogger(this.config, { logger: options.log?.logger, destination: options.log?.destination });
    this.load = createLoadProtection(this.config.load);
    this.security = createSecurityLayer(this.config.security, this.log);
    this.monitors = new Monitors(this.config, this.log, this.load);
    if (this.config.security.secretWarning !== undefined) this.log.warn(this.config.security.secretWarning);
    this.#plugins = new PluginHost(this, { onStartup: (hook) => this.onStartup(hook), onShutdown: (hook) => this.onShutdown(hook) });
    // vial's own features on the same seam as everyone else's.
    this.plugin(securityHeaders, this.config.security.headers);
    // Expect: 100-continue only once the body will be read (security/continue.ts).
    this.plugin(expectContinue);
    this.plugin(cookies);
    if (this.config.log.requests) this.plugin(requestLog);
    // No per-request work unless an OpenTelemetry SDK is registered when a server is created.
    this.plugin(telemetry);
    // On by default now that CSRF tokens are masked per response (BREACH: docs/compression.md);
    // both skip replies under 1 KiB, so the commonest tiny replies keep the fast path.
    if (options.compression !== false) this.#builtin(compression, options.compression, 'compression');
    if (options.conditional !== false) this.#builtin(conditional, options.conditional, 'conditional');
  }

  /** Built-ins configured through VialOptions: registering them again says where their options go. */
  readonly #defaults = new Map<Plugin<never, never>, string>();

  #builtin<O, I>(plugin: Plugin<O, I>, input: I | undefined, key: string): void {
    this.plugin(plugin, input);
    this.#defaults.set(plugin as unknown as Plugin<never, never>, key);
  }

  /** Registers a plugin on the whole app and sets it up at once (docs/plugins.md). */
  plugin<O, I>(plugin: Plugin<O, I>, input?: I): this {
    this.assertMutable(`register plugin "${plugin.name}"`);
    const key = this.#defaults.get(plugin as unknown as Plugin<never, never>);
    if (key !== undefined) {
      throw new ConfigError(
        'VIAL_ERR_PLUGIN',
        `The ${plugin.name} plugin is on by default. Configure it with new Vial({ ${key}: { ... } }), or turn it off with { ${key}: false }.`,
      );
    }
    this.#plugins.register(plugin, input, this, undefined);
    return this;
  }

  /**
   * Registers a blueprint's routes, hooks and error handlers under its prefix (or `options.prefix`).
   * The returned type carries the blueprint's routes under that prefix (vial/client), when the
   * prefix is a literal.
   */
  register<B extends Blueprint, P extends string = PrefixOf<B>>(blueprint: B, options?: { prefix?: P }): this & Mounted<P, B>;
  register(blueprint: Blueprint, options: { prefix?: string } = {}): this {
    this.#assertNotFrozen('register a blueprint');
    if (this.#mounts.some((m) => m.blueprint.name === blueprint.name)) {
      throw new ConfigError('VIAL_ERR_BLUEPRINT', `A blueprint named "${blueprint.name}" is already registered.`);
    }
    this.#mounts.push({ blueprint, prefix: options.prefix === undefined ? blueprint.prefix : normalizePrefix(options.prefix) });
    // The blueprint's plugins, scoped to its routes: set up now that the app's config is known.
    for (const { plugin, input } of blueprint.takePendingPlugins()) this.#plugins.register(plugin, input as never, blueprint, blueprint.name);
    return this;
  }

  /** Adds a path converter: `app.converter('slug', { regex: '[a-z0-9-]+' })`, used as `<slug:name>`. */
  converter(name: string, converter: Converter): this {
    this.#assertNotFrozen('add a converter');
    this.#converters[name] = converter;
    return this;
  }

  /** Runs before the server starts listening (open pools, warm caches). */
  onStartup(hook: LifecycleHook): this {
    this.#startup.push(hook);
    return this;
  }

  /** Runs when the server closes (close pools, flush). Newest first. */
  onShutdown(hook: LifecycleHook): this {
    this.#shutdown.push(hook);
    return this;
  }

  /**
   * Reverse routing: `app.urlFor('user', { id: 1 })` gives `/users/1`; `{ tab: 'posts' }` as the
   * third argument adds a query, `{ query, external: true }` makes it absolute (src/urls.ts).
   */
  urlFor(name: string, params?: Record<string, unknown>, queryOrOptions?: UrlForQuery | UrlForOptions): string {
    const { query, external } = splitUrlForArgument(queryOrOptions);
    const path = urlFor(this.#routeTable(), name, params, query);
    return external ? `${requestOrigin(peekContext()?.request, this.config)}${path}` : path;
  }

  /** Every route, for `vial routes` and the admin page. */
  get routeList(): readonly RouteRecord[] {
    return this.#routeTable().records;
  }

  /** The Node request listener: `http.createServer(app.handler)`. Freezes registration. */
  get handler(): (req: IncomingMessage, res: ServerResponse) => void {
    if (this.#dispatcher === undefined) {
      const table = this.#routeTable();
      const services = this.#services();
      this.#plugins.bindDecorations(services);
      const gates = new Map<RouteRecord, RouteGate>();
      for (const record of table.records) {
        const { concurrency, maxQueue } = record.options;
        gates.set(record, this.load.admission.route(record.info.key, { ...(concurrency === undefined ? {} : { concurrency }), ...(maxQueue === undefined ? {} : { maxQueue }) }));
      }
      this.#dispatcher = createDispatcher({
        config: this.config,
        table,
        log: this.log,
        services,
        admission: this.load.admission,
        deadlines: this.load.deadlines,
        offload: this.load.offload,
        security: this.security,
        plugins: this.#plugins,
        maxHeadersCount: this.config.load.server.maxHeadersCount,
        gates,
      });
    }
    return this.#dispatcher;
  }

  /** Runs startup hooks once. `listen()` calls it; call it yourself when you mount `handler` elsewhere. */
  start(): Promise<void> {
    this.#started ??= (async () => {
      void this.handler;
      for (const hook of this.#startup) await hook(this);
    })();
    return this.#started;
  }

  /**
   * Creates the app's http.Server with the slow-client and abuse limits applied, without
   * listening (the worker supervisor hands it connections itself).
   */
  createServer(): Server {
    const server = createServer(serverOptions(this.config.load.server), this.handler);
    applyServerLimits(server, this.config.load.server);
    installClientErrorHandler(server, this.errorHeaders);
    this.#plugins.attachServer(server);
    // The watchdog thread starts with the first request (monitors.ts says why).
    server.once('request', () => this.monitors.watch());
    return server;
  }

  /** The TLS server for `listen({ tls })`: HTTP/2 with HTTP/1.1 fallback, the same limits and plugins' server hooks. */
  #createSecureServer(tls: TlsOptions): Http2SecureServer {
    const { server } = createSecureServer(this.handler, tls, this.config.load.server);
    // node:http2's secure server serves HTTP/1.1 through Node's own HTTP/1 connection listener, so
    // it emits what an http.Server emits ('request', 'upgrade', 'clientError') and takes its hooks.
    installClientErrorHandler(server as unknown as Server, this.config.security.headers);
    applyConnectionLimits(server as unknown as Server, this.config.load.server);
    this.#plugins.attachServer(server as unknown as Server);
    return server;
  }

  /**
   * The headers every JSON error response carries (the data subset of the plugins' response
   * headers: vial's security headers). For answers written outside the dispatcher: parser errors,
   * the client-error answers (client-error.ts).
   */
  get errorHeaders(): readonly (readonly [name: string, value: string])[] {
    return this.#plugins.responseHeaders().data;
  }

  /**
   * How the shutdown tracker's 503 (process/shutdown.ts) matches the dispatcher's closing refusal:
   * the same document and data heads, and the request id as `log.requestIdHeader` says.
   */
  get refusalStyle(): RefusalStyle {
    const { document, data } = this.#plugins.responseHeaders();
    return { heads: buildPlainHeads(document, data), requestId: this.config.log.requestIdHeader !== 'never' };
  }

  /**
   * Starts the process-wide monitors (monitors.ts): event-loop pressure, allocation sampling, the
   * leak alarm and the metrics now, the blocked-loop watchdog at the first request. `listen()`
   * calls it; the test client does not (monitors are per process, and tests create many apps).
   */
  async startMonitors(): Promise<void> {
    await this.monitors.start(this);
  }

  async listen(options: ListenOptions = {}): Promise<RunningServer> {
    await this.start();
    await this.startMonitors();
    const secure = options.tls === undefined ? undefined : this.#createSecureServer(options.tls);
    // Typed as an http.Server: it emits the same events and has the same listen/close/address.
    const server: Server = secure === undefined ? this.createServer() : (secure as unknown as Server);
    const host = options.host ?? this.config.host;
    const limits = this.config.load.server;
    const accepting = await listenWithAcceptors(server, { port: options.port ?? this.config.port, host, backlog: limits.listenBacklog, acceptors: limits.acceptors });
    if (accepting.degraded !== undefined) {
      this.log.warn({ sockets: accepting.sockets, acceptors: limits.acceptors }, `vial: ${accepting.degraded}. New connections are taken in more slowly when the loop is busy; set load.server.acceptors to 1 to silence this.`);
    }
    const { port } = server.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const url = `${secure === undefined ? 'http' : 'https'}://${shownHost}:${port}`;
    this.log.info({ url }, 'vial: listening');
    let admin: RunningAdmin | undefined;
    if (options.admin?.enabled ?? this.config.admin.enabled) {
      const { host: adminHost, token } = this.config.admin;
      const adminPort = options.admin?.port ?? this.config.admin.port;
      try {
        const metrics = this.monitors.metrics;
        admin = await startAdmin(this, { host: adminHost, port: adminPort, ...(token === undefined ? {} : { token }), ...(metrics === undefined ? {} : { metrics }) });
      } catch (error) {
        // A taken admin port must not take the service down with it; a missing token must.
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
          // Not started after all: free the port (and every accept socket) before saying why.
          await new Promise<void>((resolve) => server.close(() => resolve()));
          throw error;
        }
        this.log.warn(
          { port: adminPort },
          `vial: admin listener not started: port ${adminPort} is in use. Pick another with --admin-port or VIAL_ADMIN_PORT (0 picks a free one).`,
        );
      }
    }
    let closing: Promise<void> | undefined;
    return {
      server,
      url,
      port,
      close: () => {
        closing ??= (async () => {
          // server.close() also stops the extra accept sockets and waits for their connections.
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          // With tls, the HTTP/2 server's own closeIdleConnections sends GOAWAY to every session (tls/index.ts).
          server.closeIdleConnections();
          await closed;
          await admin?.close();
          await this.shutdown();
        })();
        return closing;
      },
    };
  }

  /**
   * Refuses new work (503 'closing'), waits for admitted requests, stops the monitors, closes the
   * session store, then runs shutdown hooks (newest first). Errors are logged, not thrown.
   */
  async shutdown(): Promise<void> {
    await this.load.close();
    await this.monitors.stop();
    this.#plugins.detachServers();
    await this.security.close();
    for (const hook of this.#shutdown.toReversed()) {
      try {
        await hook(this);
      } catch (error) {
        this.log.error({ err: error }, 'vial: a shutdown hook failed');
      }
    }
  }

  #routeTable(): RouteTable {
    if (this.#table === undefined) {
      // Login protection is on by default: an app that did not register the rate-limit plugin gets
      // it now with its defaults alone (no general limit), so a route marked `login` is protected
      // and every other route pays nothing. Registered here, not in the constructor, so that
      // app.plugin(rateLimit, { ... }) stays the one way to configure it.
      if (!this.#plugins.registered(rateLimit.name)) this.#plugins.register(rateLimit, undefined, this, undefined);
      this.#table = buildRouteTable(this, this.#mounts, this.#converters, this.#plugins);
    }
    return this.#table;
  }

  /** Registration after the route table was built would be silently ignored: refuse it clearly. */
  protected override assertMutable(what: string): void {
    this.#assertNotFrozen(what);
  }

  #assertNotFrozen(what: string): void {
    if (this.#table !== undefined) {
      throw new ConfigError(
        'VIAL_ERR_APP_FROZEN',
        `Cannot ${what} after the app has started handling requests (or after urlFor/routeList was used). Do all registration at startup.`,
      );
    }
  }

  #services(): ContextServices {
    return {
      log: this.log,
      urlFor: (name, params, query) => this.urlFor(name, params, query),
      session: (ctx: Context) => (ctx.sessionState ??= this.security.newSession(ctx)),
      csrfToken: (ctx: Context) => this.security.csrfToken(ctx),
      // A synchronous handler on the fast path runs before any deadline is set: it has it all.
      remainingMs: (ctx: Context) =>
        ctx.deadlineAt === 0 ? (ctx.route?.timeoutMs ?? this.load.deadlines.requestTimeoutMs) : Math.max(0, ctx.deadlineAt - this.load.deadlines.now()),
      offload: <T>(task: { filename: string | URL; name?: string }, payload: unknown, ctx: Context) => this.load.offload.run<T>(task, payload, { signal: ctx.signal }),
    };
  }
}
