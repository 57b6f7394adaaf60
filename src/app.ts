/**
 * Vial: options -> frozen config, assembly of the pieces, listen and close. Thin on purpose: the
 * request lifecycle lives in dispatch.ts, registration in scaffold.ts and route-table.ts.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { Logger } from 'pino';
import { Blueprint, normalizePrefix } from './blueprint.ts';
import { resolveCoreOptions } from './config.ts';
import type { CoreConfig, CoreOptions } from './config.ts';
import type { Context, ContextServices } from './context.ts';
import { createDispatcher } from './dispatch.ts';
import type { Dispatcher } from './dispatch.ts';
import { ConfigError } from './errors.ts';
import { BUILTIN_CONVERTERS } from './router.ts';
import type { Converter } from './router.ts';
import { buildRouteTable, urlFor } from './route-table.ts';
import type { Mount, RouteRecord, RouteTable } from './route-table.ts';
import { Scaffold } from './scaffold.ts';

export type VialOptions = CoreOptions;

export type LifecycleHook = (app: Vial) => void | Promise<void>;

export interface ListenOptions {
  port?: number;
  host?: string;
}

export interface RunningServer {
  readonly server: Server;
  /** `http://127.0.0.1:5000` */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, runs shutdown hooks, closes idle connections; resolves when the server closed. */
  close(): Promise<void>;
}

/** Security headers on every response (see security/ for the full policy). */
const BASE_HEADERS = Object.freeze({
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
});

export class Vial extends Scaffold {
  readonly config: CoreConfig;
  readonly log: Logger;
  readonly #mounts: Mount[] = [];
  readonly #converters: Record<string, Converter> = { ...BUILTIN_CONVERTERS };
  readonly #startup: LifecycleHook[] = [];
  readonly #shutdown: LifecycleHook[] = [];
  #table: RouteTable | undefined;
  #dispatcher: Dispatcher | undefined;
  #started: Promise<void> | undefined;

  constructor(options: VialOptions = {}) {
    super();
    this.config = resolveCoreOptions(options);
    this.log = pino({ name: this.config.name, level: this.config.log.level });
  }

  /** Registers a blueprint's routes, hooks and error handlers under its prefix (or `options.prefix`). */
  register(blueprint: Blueprint, options: { prefix?: string } = {}): this {
    this.#assertNotFrozen('register a blueprint');
    if (this.#mounts.some((m) => m.blueprint.name === blueprint.name)) {
      throw new ConfigError('VIAL_ERR_BLUEPRINT', `A blueprint named "${blueprint.name}" is already registered.`);
    }
    this.#mounts.push({ blueprint, prefix: options.prefix === undefined ? blueprint.prefix : normalizePrefix(options.prefix) });
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

  /** Reverse routing: `app.urlFor('user', { id: 1 })` gives `/users/1`. */
  urlFor(name: string, params?: Record<string, unknown>, query?: Record<string, string>): string {
    return urlFor(this.#routeTable(), name, params, query);
  }

  /** Every route, for `vial routes` and the admin page. */
  get routeList(): readonly RouteRecord[] {
    return this.#routeTable().records;
  }

  /** The Node request listener: `http.createServer(app.handler)`. Freezes registration. */
  get handler(): (req: IncomingMessage, res: ServerResponse) => void {
    this.#dispatcher ??= createDispatcher({
      config: this.config,
      table: this.#routeTable(),
      log: this.log,
      services: this.#services(),
      baseHeaders: BASE_HEADERS,
    });
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

  async listen(options: ListenOptions = {}): Promise<RunningServer> {
    await this.start();
    const server = createServer({ maxHeaderSize: 16 * 1024 }, this.handler);
    const host = options.host ?? this.config.host;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? this.config.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const url = `http://${shownHost}:${port}`;
    this.log.info({ url }, 'vial: listening');
    let closing: Promise<void> | undefined;
    return {
      server,
      url,
      port,
      close: () => {
        closing ??= (async () => {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          await closed;
          await this.shutdown();
        })();
        return closing;
      },
    };
  }

  /** Runs shutdown hooks (newest first). Errors are logged, not thrown: every hook gets its turn. */
  async shutdown(): Promise<void> {
    for (const hook of this.#shutdown.toReversed()) {
      try {
        await hook(this);
      } catch (error) {
        this.log.error({ err: error }, 'vial: a shutdown hook failed');
      }
    }
  }

  #routeTable(): RouteTable {
    this.#table ??= buildRouteTable(this, this.#mounts, this.#converters);
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
      session: (_ctx: Context) => undefined,
      csrfToken: (_ctx: Context) => {
        throw new ConfigError('VIAL_ERR_NO_SESSION', 'CSRF tokens need sessions; configure security.session.');
      },
    };
  }
}
