/**
 * Vial: options -> frozen config, assembly of the pieces, listen and close. Thin on purpose: the
 * request lifecycle lives in dispatch.ts, registration in scaffold.ts and route-table.ts.
 */
import { createServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { Logger } from 'pino';
import { Blueprint, normalizePrefix } from './blueprint.ts';
import { resolveConfig } from './config.ts';
import type { VialConfig, VialOptions } from './config.ts';
import { peekContext } from './context.ts';
import type { Context, ContextServices } from './context.ts';
import { createDispatcher } from './dispatch.ts';
import type { Dispatcher } from './dispatch.ts';
import { ConfigError, VialError } from './errors.ts';
import type { RouteGate } from './load/admission.ts';
import { createLoadProtection } from './load/protection.ts';
import type { LoadProtection } from './load/protection.ts';
import { listenWithAcceptors } from './load/acceptors.ts';
import { applyServerLimits, serverOptions } from './load/server-limits.ts';
import { createAllocationSampler } from './memory/allocation.ts';
import type { AllocationSampler } from './memory/allocation.ts';
import { createLeakAlarm } from './memory/leak-alarm.ts';
import type { LeakAlarm } from './memory/leak-alarm.ts';
import { installWatchdog } from './process/watchdog.ts';
import type { Watchdog } from './process/watchdog.ts';
import { installClientErrorHandler } from './internal/client-error.ts';
import { startAdmin } from './admin/server.ts';
import type { RunningAdmin } from './admin/http.ts';
import { createMetrics } from './observe/metrics.ts';
import type { Metrics } from './observe/metrics.ts';
import { prettyDestination } from './observe/pretty.ts';
import { createSecurityLayer } from './security/layer.ts';
import type { SecurityLayer } from './security/layer.ts';
import { BUILTIN_CONVERTERS } from './router.ts';
import type { Converter } from './router.ts';
import { buildRouteTable, urlFor } from './route-table.ts';
import type { Mount, RouteRecord, RouteTable } from './route-table.ts';
import { Scaffold } from './scaffold.ts';
import type { Plugin } from './plugin.ts';
import { PluginHost } from './plugin-host.ts';
import { securityHeaders } from './security/headers.ts';
import { expectContinue } from './security/continue.ts';
import { cookies } from './cookies/index.ts';
import { createSecureServer } from './tls/index.ts';
import type { TlsOptions } from './tls/index.ts';
import type { Http2SecureServer } from 'node:http2';
import { requestOrigin, splitUrlForArgument } from './urls.ts';
import type { UrlForOptions, UrlForQuery } from './urls.ts';
import { requestLog } from './observe/request-log.ts';

export type { VialOptions } from './config.ts';

export type LifecycleHook = (app: Vial) => void | Promise<void>;

export interface ListenOptions {
  port?: number;
  host?: string;
  /** Serve HTTPS, with HTTP/2 and HTTP/1.1 fallback over ALPN (docs/https.md). */
  tls?: TlsOptions;
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

/** How long a route the watchdog caught blocking the event loop stays limited (concurrency 1, no queue). */
const BLOCKING_ROUTE_PENALTY_MS = 60_000;

export class Vial extends Scaffold {
  readonly config: VialConfig;
  readonly log: Logger;
  /** Admission, deadlines, event-loop pressure and the offload pool (docs/load.md). */
  readonly load: LoadProtection;
  readonly security: SecurityLayer;
  #watchdog: Watchdog | undefined;
  #sampler: AllocationSampler | undefined;
  #leakAlarm: LeakAlarm | undefined;
  #metrics: Metrics | undefined;
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
    // Development gets one readable line per event; everywhere else, JSON lines for a log pipeline.
    const pretty = this.config.env === 'development' ? prettyDestination() : undefined;
    this.log = pretty === undefined ? pino({ name: this.config.name, level: this.config.log.level }) : pino({ name: this.config.name, level: this.config.log.level }, pretty);
    this.load = createLoadProtection(this.config.load);
    this.security = createSecurityLayer(this.config.security, this.log);
    if (this.config.security.secretWarning !== undefined) this.log.warn(this.config.security.secretWarning);
    this.#plugins = new PluginHost(this, { onStartup: (hook) => this.onStartup(hook), onShutdown: (hook) => this.onShutdown(hook) });
    // vial's own features on the same seam as everyone else's.
    this.plugin(securityHeaders, this.config.security.headers);
    // Expect: 100-continue only once the body will be read (security/continue.ts).
    this.plugin(expectContinue);
    this.plugin(cookies);
    if (this.config.log.requests) this.plugin(requestLog);
  }

  protected override installPlugin<O, I>(plugin: Plugin<O, I>, input: I | undefined): void {
    this.#plugins.register(plugin, input, this, undefined);
  }

  /** Registers a blueprint's routes, hooks and error handlers under its prefix (or `options.prefix`). */
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
    installClientErrorHandler(server, this.config.security.headers);
    this.#plugins.attachServer(server);
    return server;
  }

  /** The TLS server for `listen({ tls })`: HTTP/2 with HTTP/1.1 fallback, the same limits and plugins' server hooks. */
  #createSecureServer(tls: TlsOptions): Http2SecureServer {
    const { server } = createSecureServer(this.handler, tls, this.config.load.server);
    // node:http2's secure server serves HTTP/1.1 through Node's own HTTP/1 connection listener, so
    // it emits what an http.Server emits ('request', 'upgrade', 'clientError') and takes its hooks.
    installClientErrorHandler(server as unknown as Server, this.config.security.headers);
    this.#plugins.attachServer(server as unknown as Server);
    return server;
  }

  /**
   * Starts the process-wide monitors: event-loop pressure, the blocked-loop watchdog, allocation
   * sampling and the leak alarm. `listen()` calls it; the test client does not (monitors are
   * per process, and tests create many apps).
   */
  async startMonitors(): Promise<void> {
    this.load.start();
    if (this.config.watchdog.enabled && this.#watchdog === undefined) {
      this.#watchdog = installWatchdog({
        ...this.config.watchdog,
        log: this.log,
        // Evaluated by the watchdog while the main thread is blocked (an inspector interrupt runs
        // on top of the blocked stack), so AsyncLocalStorage still holds that request.
        getActiveRoute: () => peekContext()?.route?.key,
        getActiveRequest: peekContext,
        onBlock: (report) => {
          // Runs of the route are spaced ten times its block apart: it keeps at most ~10% of the loop.
          // Only when one request held the loop: a long turn of many requests (a burst of new
          // connections) says nothing about the route that happened to run when it was sampled.
          if (report.route !== null && report.confirmed) this.load.admission.penalize(report.route, BLOCKING_ROUTE_PENALTY_MS, report.durationMs * 10);
        },
      });
      // Serve only once the thread watches, so a block in the first moments is not missed; bounded,
      // because a watchdog that cannot start must not hold the app back (it logs why).
      // The timer is ref'd on purpose (an unref'd one lets a script whose only work is
      // `await app.listen()` exit before the thread answers) and cancelled once the thread is ready.
      const timeout = new AbortController();
      await Promise.race([this.#watchdog.ready(), delay(2_000, undefined, { signal: timeout.signal }).catch(() => undefined)]);
      timeout.abort();
    }
    const memory = this.config.memory;
    if (memory.allocationSampling.enabled && this.#sampler === undefined) {
      const sampler = createAllocationSampler(memory.allocationSampling);
      try {
        await sampler.start();
        this.#sampler = sampler;
      } catch (error) {
        // V8 allows one sampling profiler per thread: a second app in this process shares nothing.
        if (!(error instanceof VialError && error.code === 'VIAL_ERR_ALLOCATION_SAMPLER_BUSY')) throw error;
        this.log.debug('vial: allocation sampling already runs in this process (another app started it)');
      }
    }
    this.#metrics ??= createMetrics(this);
    if (memory.leakAlarm.enabled && this.#leakAlarm === undefined) {
      this.#leakAlarm = createLeakAlarm({ ...memory.leakAlarm, ...(this.#sampler === undefined ? {} : { sampler: this.#sampler }), log: this.log });
      this.#leakAlarm.start();
    }
  }

  /** The watchdog's recent blocks, the allocation sampler, the leak alarm and the metrics, for the admin surface. */
  get monitors(): {
    readonly watchdog: Watchdog | undefined;
    readonly sampler: AllocationSampler | undefined;
    readonly leakAlarm: LeakAlarm | undefined;
    readonly metrics: Metrics | undefined;
  } {
    return { watchdog: this.#watchdog, sampler: this.#sampler, leakAlarm: this.#leakAlarm, metrics: this.#metrics };
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
    if (this.config.admin.enabled) {
      const { host: adminHost, port: adminPort, token } = this.config.admin;
      try {
        admin = await startAdmin(this, { host: adminHost, port: adminPort, ...(token === undefined ? {} : { token }), ...(this.#metrics === undefined ? {} : { metrics: this.#metrics }) });
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
    this.#leakAlarm?.stop();
    await this.#sampler?.stop();
    await this.#watchdog?.stop();
    this.#metrics?.close();
    this.#plugins.detachServers();
    // Cleared so a restarted app installs its monitors again.
    this.#metrics = undefined;
    this.#leakAlarm = undefined;
    this.#sampler = undefined;
    this.#watchdog = undefined;
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
    this.#table ??= buildRouteTable(this, this.#mounts, this.#converters, this.#plugins);
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
      offload: <T>(task: { filename: string | URL; name?: string }, payload: unknown, ctx: Context) => this.load.offload.run<T>(task, payload, { signal: ctx.signal }),
    };
  }
}
