/**
 * A plugin written only against vial's public API: a `Server-Timing` header (W3C Server Timing)
 * on every response, a typed `ctx.timing` to mark phases of a request, a per-route opt-out
 * (`serverTiming: false`) and an optional route that lists the time spent per route.
 *
 *   app.plugin(serverTiming, { metric: 'app', statsPath: '/_timing' });
 *   app.get('/report', async (ctx) => {
 *     const rows = await ctx.timing.measure('db', () => db.query('...'));
 *     return { rows };
 *   });
 *   // -> server-timing: db;dur=12.1, app;dur=12.9
 */
import { ConfigError, definePlugin } from '../../src/index.ts';
import type { RouteView } from '../../src/index.ts';

/** The phases of one request; created on first use of `ctx.timing`, once per request. */
export class Timing {
  readonly #startedAt = performance.now();
  readonly #marks: [name: string, durationMs: number][] = [];

  /** Times `work` (sync or async) as a named phase. */
  async measure<T>(name: string, work: () => T | Promise<T>): Promise<T> {
    checkToken(name, 'a Server-Timing metric name');
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.#marks.push([name, performance.now() - start]);
    }
  }

  /** Milliseconds since the request first touched `ctx.timing`. */
  elapsedMs(): number {
    return performance.now() - this.#startedAt;
  }

  /** `db;dur=12.1, app;dur=12.9`: the phases, then the total under `metric`. */
  header(metric: string): string {
    const parts = this.#marks.map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`);
    parts.push(`${metric};dur=${this.elapsedMs().toFixed(1)}`);
    return parts.join(', ');
  }
}

declare module '../../src/index.ts' {
  interface ContextDecorations {
    /** Phases of this request, sent as `Server-Timing` (examples/server-timing). */
    timing: Timing;
  }
  interface RouteOptions {
    /** `false` leaves this route's responses without a Server-Timing header. */
    serverTiming?: boolean;
  }
}

export interface ServerTimingOptions {
  /** The metric name of the whole request: an HTTP token. */
  readonly metric: string;
  /** Where the per-route totals are served, or false for no route. */
  readonly statsPath: string | false;
}

export type ServerTimingInput = Partial<ServerTimingOptions>;

interface RouteTotals {
  count: number;
  totalMs: number;
}

export const serverTiming = definePlugin<ServerTimingOptions, ServerTimingInput>({
  name: 'server-timing',
  options(input) {
    const metric = input?.metric ?? 'app';
    checkToken(metric, 'server-timing `metric`');
    const statsPath = input?.statsPath ?? false;
    if (statsPath !== false && (typeof statsPath !== 'string' || !statsPath.startsWith('/'))) {
      throw new ConfigError('VIAL_ERR_PLUGIN', `server-timing \`statsPath\` is a path starting with "/" or false, got ${JSON.stringify(statsPath)}.`);
    }
    return { metric, statsPath };
  },
  setup(r, { metric, statsPath }) {
    r.routeOption('serverTiming', (value, route) => {
      if (typeof value !== 'boolean') throw new ConfigError('VIAL_ERR_ROUTE', `Route ${route.key}: serverTiming is true or false, got ${JSON.stringify(value)}.`);
    });
    r.decorate('timing', () => new Timing());
    // One entry per route, made when the table is built: bounded by the routes, not by traffic.
    const totals = new Map<string, RouteTotals>();
    r.perRoute((route: RouteView) => {
      if (route.options.serverTiming === false) return undefined;
      // GET and its automatic HEAD share a key (and so one entry).
      const entry: RouteTotals = totals.get(route.key) ?? { count: 0, totalMs: 0 };
      totals.set(route.key, entry);
      return {
        onResponse(ctx, response) {
          const timing = ctx.timing;
          response.header('server-timing', timing.header(metric));
          entry.count++;
          entry.totalMs += timing.elapsedMs();
        },
      };
    });
    if (statsPath !== false) {
      r.get(statsPath, { name: 'server_timing_stats', serverTiming: false }, () => ({
        routes: [...totals].filter(([, t]) => t.count > 0).map(([route, t]) => ({ route, count: t.count, meanMs: Math.round((t.totalMs / t.count) * 100) / 100 })),
      }));
    }
  },
});

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
function checkToken(value: string, what: string): void {
  if (typeof value !== 'string' || !TOKEN.test(value)) throw new ConfigError('VIAL_ERR_PLUGIN', `${what} must be an HTTP token (letters, digits, !#$%&'*+.^_\`|~-), got ${JSON.stringify(value)}.`);
}
