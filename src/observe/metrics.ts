/**
 * Prometheus metrics for one app. Each app gets its own prom-client Registry (two apps in one
 * process would otherwise collide on metric names); Node's default process metrics (heap, RSS,
 * GC, event-loop lag) live in one process-wide registry created once and shared by every app's.
 *
 * Only `vial:request` does work per request (one RequestSeries record and one LiveStats record);
 * everything else is read in `collect()` when Prometheus scrapes, from state the app already keeps.
 * Channel mapping, metric by metric, is in docs/admin.md.
 *
 * prom-client is imported on the first `registry()` call (the first scrape), not with vial:
 * importing it costs ~21 MiB of RSS (measured on Node 24, issue 16), which an app nobody scrapes
 * yet should not pay. What must count from the start is counted here without it (RequestSeries,
 * blocks, leak alarms, the heap floor); Node's default process metrics start at the first scrape,
 * so their GC histograms and event-loop lag cover the time since then (docs/admin.md).
 */
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Registry } from 'prom-client';
import type { RouteInfo } from '../context.ts';
import { connectionStats } from '../load/connections.ts';
import { cacheRegistry } from '../memory/registry.ts';
import { leakChannel } from '../memory/leak-alarm.ts';
import { blockChannel, blockKind } from '../process/block-report.ts';
import type { BlockReport } from '../process/block-report.ts';
import { rateLimitChannel } from '../ratelimit/events.ts';
import type { RateLimitEvent } from '../ratelimit/events.ts';
import { requestChannel } from '../request-events.ts';
import type { RequestEvent } from '../request-events.ts';
import { LiveStats } from './live-stats.ts';
import type { LiveStatsOptions } from './live-stats.ts';
import { RequestSeries } from './request-series.ts';
import type { ObservedApp } from './types.ts';
import { websocketStats } from '../websocket/stats.ts';

/** Route label of requests that matched no route (404, 405, hostile targets). */
export const UNMATCHED_ROUTE = '<unmatched>';

export interface Metrics {
  /**
   * This app's metrics merged with the process-wide default metrics. The first call imports
   * prom-client and builds the registry; later calls return the same one.
   */
  registry(): Promise<Registry>;
  /** The per-second history the dashboard draws. */
  readonly live: LiveStats;
  /** Requests refused by a rate limit so far, by route, limit and key kind, most first (the dashboard's table). */
  rateLimited(): readonly RateLimitedRow[];
  close(): void;
}

export interface RateLimitedRow {
  readonly route: string;
  readonly limit: string;
  readonly key: string;
  readonly count: number;
}

export interface MetricsOptions {
  live?: LiveStatsOptions;
  /** Default true: start the per-second sampler now. */
  startSampling?: boolean;
}

type PromClient = typeof import('prom-client');

let promClient: Promise<PromClient> | undefined;
let processRegistry: Registry | undefined;

/** prom-client, imported once per process on first use (outside any request's async context). */
export function loadPromClient(): Promise<PromClient> {
  promClient ??= import('prom-client');
  return promClient;
}

/** Node's default metrics, collected once per process whatever the number of apps. */
function processMetrics(prom: PromClient): Registry {
  if (processRegistry === undefined) {
    processRegistry = new prom.Registry();
    prom.collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(app: ObservedApp, options: MetricsOptions = {}): Metrics {
  const series = new RequestSeries();
  const live = new LiveStats(app, options.live);
  // Channels are process-wide: keep only requests whose route object belongs to this app.
  const routes = new Set<RouteInfo>(app.routeList.map((r) => r.info));

  function onRequest(event: RequestEvent): void {
    const info = event.ctx.route;
    if (info !== undefined && !routes.has(info)) return;
    const route = info === undefined ? UNMATCHED_ROUTE : info.key;
    series.record(route, event.ctx.request.method, event.status, event.durationMs);
    live.record(route, event.status, event.durationMs);
  }
  const blocksByRoute = new Map<string, number>();
  let longTurns = 0;
  const onBlock = (report: BlockReport): void => {
    // Only a confirmed block is a route's; a long turn, in a route or outside any request, is no one's.
    if (blockKind(report) !== 'block') {
      longTurns++;
      return;
    }
    const route = report.route ?? 'none';
    blocksByRoute.set(route, (blocksByRoute.get(route) ?? 0) + 1);
  };
  let leakAlarms = 0;
  const onLeak = (): void => void leakAlarms++;
  const rateLimits = new RateLimitCounts(routes);
  rateLimitChannel.subscribe(rateLimits.onEvent);
  requestChannel.subscribe(onRequest);
  blockChannel.subscribe(onBlock);
  leakChannel.subscribe(onLeak);
  const heapFloor = watchHeapFloor();
  if (options.startSampling ?? true) live.start();

  let registry: Promise<Registry> | undefined;
  async function build(): Promise<Registry> {
    const prom = await loadPromClient();
    const own = new prom.Registry();
    const r: Registration = { prom, registry: own };
    series.register(own);
    totals(r, 'vial_event_loop_blocks_total', 'Event-loop blocks the watchdog confirmed (vial:block), by the route that held the loop.', ['route'], () =>
      [...blocksByRoute].map(([route, n]) => [{ route }, n]));
    totals(r, 'vial_event_loop_long_turns_total', 'Long event-loop turns the watchdog could not pin on one request (vial:block, not confirmed): many requests, or work outside any request.', [], () => [[NO_LABELS, longTurns]]);
    totals(r, 'vial_leak_alarms_total', 'Heap-growth alarms raised (vial:leak).', [], () => [[NO_LABELS, leakAlarms]]);
    registerLoadMetrics(app, r, live);
    registerMemoryMetrics(r);
    gauge(r, 'vial_heap_used_after_gc_bytes', 'V8 heap used right after the last major GC (0 until one ran).', [], () => [[NO_LABELS, heapFloor.bytes]]);
    registerSecurityMetrics(app, r);
    rateLimits.register(r);
    registerWebSocketMetrics(app, r);
    return prom.Registry.merge([processMetrics(prom), own]);
  }
  return {
    registry: () => (registry ??= build()),
    live,
    rateLimited: () => rateLimits.limitedRows(),
    close() {
      requestChannel.unsubscribe(onRequest);
      blockChannel.unsubscribe(onBlock);
      leakChannel.unsubscribe(onLeak);
      rateLimitChannel.unsubscribe(rateLimits.onEvent);
      heapFloor.stop();
      live.stop();
    },
  };
}

/** The loaded prom-client and the registry metrics are registered in. */
interface Registration {
  readonly prom: PromClient;
  readonly registry: Registry;
}

/** A counter whose value is a running total kept elsewhere: set on every scrape. */
function totals({ prom, registry }: Registration, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]): void {
  new prom.Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

function gauge({ prom, registry }: Registration, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][]): void {
  new prom.Gauge({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

const NO_LABELS: Record<string, string> = {};

/**
 * Heap used right after the last major GC: the floor that only retained objects hold up. RSS and
 * plain heap used also move with garbage V8 has not collected yet, so a black-box leak probe
 * (`vial doctor --leak --admin`) reads this one first. Watched from the start, not from the first
 * scrape, so the first scrape already has a floor.
 */
function watchHeapFloor(): { readonly bytes: number; stop(): void } {
  const state = { bytes: 0, stop: () => observer.disconnect() };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        state.bytes = getHeapStatistics().used_heap_size;
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return state;
}

function registerLoadMetrics(app: ObservedApp, r: Registration, live: LiveStats): void {
  const { admission, deadlines, pressure, offload } = app.load;
  gauge(r, 'vial_in_flight', 'Requests running now.', [], () => [[NO_LABELS, admission.inFlight]]);
  gauge(r, 'vial_queued', 'Requests waiting for admission now.', [], () => [[NO_LABELS, admission.queued]]);
  gauge(r, 'vial_route_in_flight', 'Requests running now, by route bulkhead.', ['route'], () => admission.snapshot().routes.map((s) => [{ route: s.route }, s.inFlight]));
  gauge(r, 'vial_route_queued', 'Requests waiting now, by route bulkhead.', ['route'], () => admission.snapshot().routes.map((s) => [{ route: s.route }, s.queued]));
  totals(r, 'vial_shed_total', 'Requests refused with 503 before running, by reason (vial:shed).', ['reason'], () =>
    Object.entries(admission.snapshot().shed).map(([reason, n]) => [{ reason }, n]));
  totals(r, 'vial_route_shed_total', 'Requests refused with 503, by route.', ['route'], () => admission.snapshot().routes.map((s) => [{ route: s.route }, s.shed]));
  totals(r, 'vial_queue_abandoned_total', 'Queued requests whose client left before admission.', [], () => [[NO_LABELS, admission.snapshot().abandoned]]);
  totals(r, 'vial_deadline_expired_total', 'Requests that ran past their deadline (504).', [], () => [[NO_LABELS, deadlines.stats().expired]]);
  gauge(r, 'vial_late_handlers_running', 'Handlers still running after their deadline answered 504.', [], () => [[NO_LABELS, deadlines.stats().lateRunning]]);
  totals(r, 'vial_late_handlers_finished_total', 'Handlers that finished after their deadline.', [], () => [[NO_LABELS, deadlines.stats().lateFinished]]);
  gauge(r, 'vial_accept_queue_connections', 'Connections waiting in the kernel accept queue of the listening sockets (Linux; not yet visible to admission).', [], () => {
    const queued = live.last?.acceptQueue;
    return queued === null || queued === undefined ? [] : [[NO_LABELS, queued]];
  });
  gauge(r, 'vial_open_connections', 'Client connections open now in this process, on every server and accept socket.', [], () => [[NO_LABELS, connectionStats().open]]);
  gauge(r, 'vial_max_connections', 'The connection cap (load.server.maxConnections); absent when there is none.', [], () => {
    const max = connectionStats().max;
    return max === null ? [] : [[NO_LABELS, max]];
  });
  totals(r, 'vial_connections_refused_total', 'New connections reset at once because the cap was reached.', [], () => [[NO_LABELS, connectionStats().refused]]);
  gauge(r, 'vial_overloaded', '1 while event-loop pressure sheds requests (vial:pressure).', [], () => [[NO_LABELS, pressure.overloaded ? 1 : 0]]);
  gauge(r, 'vial_event_loop_delay_p99_seconds', 'p99 event-loop delay over the last second.', [], () => [[NO_LABELS, (live.last?.eventLoopDelayP99Ms ?? 0) / 1000]]);
  gauge(r, 'vial_event_loop_utilization', 'Event-loop utilisation over the last second, 0..1.', [], () => [[NO_LABELS, live.last?.eventLoopUtilization ?? 0]]);
  gauge(r, 'vial_offload_threads', 'Worker threads in the CPU offload pool.', [], () => [[NO_LABELS, offload.stats().threads]]);
  gauge(r, 'vial_offload_active', 'Offloaded tasks running.', [], () => [[NO_LABELS, offload.stats().active]]);
  gauge(r, 'vial_offload_queued', 'Offloaded tasks waiting for a thread.', [], () => [[NO_LABELS, offload.stats().queued]]);
  totals(r, 'vial_offload_completed_total', 'Offloaded tasks finished.', [], () => [[NO_LABELS, offload.stats().completed]]);
  totals(r, 'vial_offload_refused_total', 'Offloaded tasks refused because the pool was full.', [], () => [[NO_LABELS, offload.stats().refused]]);
}

function registerMemoryMetrics(r: Registration): void {
  const each = (pick: (c: ReturnType<typeof cacheRegistry.list>[number]) => number | null) => (): [Record<string, string>, number][] =>
    cacheRegistry.list().flatMap((c) => {
      const v = pick(c);
      return v === null ? [] : [[{ cache: c.name }, v] as [Record<string, string>, number]];
    });
  gauge(r, 'vial_cache_entries', 'Entries held, by cache.', ['cache'], each((c) => c.size));
  gauge(r, 'vial_cache_bytes', 'Estimated bytes held, by cache (byte-bounded caches only).', ['cache'], each((c) => c.bytes));
  gauge(r, 'vial_cache_max_entries', 'Entry bound, by cache.', ['cache'], each((c) => c.maxEntries));
  gauge(r, 'vial_cache_hit_ratio', 'hits / (hits + misses), by cache.', ['cache'], each((c) => c.hitRate));
  totals(r, 'vial_cache_hits_total', 'Cache hits, by cache.', ['cache'], each((c) => c.hits));
  totals(r, 'vial_cache_misses_total', 'Cache misses, by cache.', ['cache'], each((c) => c.misses));
  totals(r, 'vial_cache_evictions_total', 'Entries evicted for a bound or a TTL, by cache.', ['cache'], each((c) => c.evictions));
}

function registerSecurityMetrics(app: ObservedApp, r: Registration): void {
  totals(r, 'vial_csrf_refusals_total', 'Unsafe requests refused by the CSRF guard, by reason (vial:csrf).', ['reason'], () =>
    Object.entries(app.security.csrfRefusals).map(([reason, n]) => [{ reason }, n]));
}

/** Requests refused by a rate limit, and requests a rate-limit store failure touched (vial:ratelimit). */
class RateLimitCounts {
  readonly #routes: ReadonlySet<RouteInfo>;
  readonly #limited = new Map<string, number>();
  readonly #storeErrors = new Map<string, number>();

  constructor(routes: ReadonlySet<RouteInfo>) {
    this.#routes = routes;
  }

  readonly onEvent = (event: RateLimitEvent): void => {
    if (event.route !== undefined && !this.#routes.has(event.route)) return;
    const route = event.route?.key ?? UNMATCHED_ROUTE;
    const counts = event.outcome === 'limited' ? this.#limited : this.#storeErrors;
    const key = JSON.stringify(event.outcome === 'limited' ? [route, event.limit, event.key] : [event.limit, event.mode ?? 'open']);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };

  limitedRows(): RateLimitedRow[] {
    return [...this.#limited]
      .map(([json, count]) => {
        const [route, limit, key] = JSON.parse(json) as [string, string, string];
        return { route, limit, key, count };
      })
      .sort((a, b) => b.count - a.count);
  }

  register(r: Registration): void {
    const rows = (counts: Map<string, number>, names: string[]) => (): [Record<string, string>, number][] =>
      [...counts].map(([key, n]) => [Object.fromEntries((JSON.parse(key) as string[]).map((v, i) => [names[i] as string, v])) as Record<string, string>, n]);
    totals(r, 'vial_ratelimit_limited_total', 'Requests a rate limit refused (429), by route, limit and key kind.', ['route', 'limit', 'key'], rows(this.#limited, ['route', 'limit', 'key']));
    totals(r, 'vial_ratelimit_store_errors_total', 'Requests whose rate-limit store did not answer, by limit and onStoreError mode (open: let through, closed: 503).', ['limit', 'mode'], rows(this.#storeErrors, ['limit', 'mode']));
  }
}

/** The websocket plugin's counters (websocket/stats.ts); no series for an app without the plugin. */
function registerWebSocketMetrics(app: ObservedApp, r: Registration): void {
  const each = (pick: (c: NonNullable<ReturnType<typeof websocketStats>>['routes'][number]) => number) => (): [Record<string, string>, number][] =>
    (websocketStats(app)?.routes ?? []).map((c) => [{ route: c.route }, pick(c)]);
  gauge(r, 'vial_websocket_open', 'WebSockets open now, by route.', ['route'], each((c) => c.open));
  gauge(r, 'vial_websocket_max_open', 'The route bulkhead: sockets it may hold at once (maxConnections), by route.', ['route'], each((c) => c.limit));
  totals(r, 'vial_websocket_opened_total', 'WebSockets opened (handshakes completed), by route.', ['route'], each((c) => c.opened));
  totals(r, 'vial_websocket_refused_total', 'Handshakes refused by the websocket checks (Origin, bulkheads, timeout), by route.', ['route'], each((c) => c.refused));
  totals(r, 'vial_websocket_messages_in_total', 'Messages received from peers, by route.', ['route'], each((c) => c.messagesIn));
  totals(r, 'vial_websocket_messages_out_total', 'Messages sent to peers (broadcasts included), by route.', ['route'], each((c) => c.messagesOut));
  totals(r, 'vial_websocket_slow_consumers_dropped_total', 'Sockets dropped because their send buffer or broadcast queue stayed full, by route.', ['route'], each((c) => c.droppedSlow));
  totals(r, 'vial_websocket_rate_limited_total', 'Sockets closed (1008) for sending too many messages per second, by route.', ['route'], each((c) => c.rateLimited));
  totals(r, 'vial_websocket_errors_total', 'Sockets closed (1011) because a handler or listener threw, by route.', ['route'], each((c) => c.errors));
}
