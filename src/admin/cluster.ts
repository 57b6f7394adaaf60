/**
 * Metrics across `vial run --workers N`: the primary asks every worker for its metrics over the
 * cluster IPC channel and serves the sum (prom-client's `AggregatorRegistry.aggregate`: counters and
 * histograms add up; each metric's own aggregator decides for gauges).
 *
 * Intentionally not `AggregatorRegistry#clusterMetrics()`: its messages coexist with the
 * supervisor's (they are objects, vial's are `['vial:...']` arrays, and each side ignores the
 * other's), but it fails the whole scrape when one worker does not answer within its timeout, and a
 * worker that does not answer is exactly the one an operator needs to see around (blocked, starting
 * or draining). Here each scrape waits for at most `scrapeTimeoutMs`, serves what arrived, and says
 * how many workers were missing.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { Registry } from 'prom-client';
import { loadPromClient } from '../observe/metrics.ts';
import type { ProcessLogger } from '../process/options.ts';
import type { Supervisor } from '../process/supervisor.ts';
import { json, resolveAdminOptions, startListener } from './http.ts';
import type { AdminOptions, Endpoint, RunningAdmin } from './http.ts';

/** prom-client's Registry.contentType (the Prometheus text format 0.0.4), known before it is loaded. */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type ScrapeRequest = readonly ['vial:metrics-request', number];
type ScrapeReply = readonly ['vial:metrics', number, MetricsJson | { error: string }];

function isScrapeRequest(msg: unknown): msg is ScrapeRequest {
  return Array.isArray(msg) && msg[0] === 'vial:metrics-request' && typeof msg[1] === 'number';
}

function isScrapeReply(msg: unknown): msg is ScrapeReply {
  return Array.isArray(msg) && msg[0] === 'vial:metrics' && typeof msg[1] === 'number';
}

/**
 * Worker side: answers the primary's scrapes with this worker's registry (from createMetrics). A
 * no-op outside a cluster worker. Returns a function that stops answering.
 */
export function serveWorkerMetrics(metrics: { registry(): Promise<Registry> }): () => void {
  if (!cluster.isWorker || process.send === undefined) return () => {};
  const send: (msg: ScrapeReply) => boolean = process.send.bind(process);
  function onMessage(msg: unknown): void {
    if (!isScrapeRequest(msg)) return;
    const id = msg[1];
    metrics.registry().then((registry) => registry.getMetricsAsJSON()).then(
      (data) => {
        if (process.connected) send(['vial:metrics', id, data] satisfies ScrapeReply);
      },
      (error: unknown) => {
        if (process.connected) send(['vial:metrics', id, { error: String(error) }] satisfies ScrapeReply);
      },
    );
  }
  process.on('message', onMessage);
  return () => void process.removeListener('message', onMessage);
}

export interface PrimaryAdminOptions extends AdminOptions {
  /** Worker state and restarts by cause come from here. */
  supervisor?: Supervisor;
  /** How long a scrape waits for the workers. Default 2000. */
  scrapeTimeoutMs?: number;
  /** Where a failing endpoint is reported (the supervisor's logger). */
  log?: Pick<ProcessLogger, 'error'>;
}

interface Pending {
  readonly waiting: Set<number>;
  readonly results: MetricsJson[];
  readonly done: () => void;
}

/** The primary's admin listener: /healthz, /readyz, /metrics (summed over workers), /workers. */
export async function startPrimaryAdmin(options: PrimaryAdminOptions = {}): Promise<RunningAdmin> {
  const resolved = resolveAdminOptions(options);
  const scrapeTimeoutMs = options.scrapeTimeoutMs ?? 2000;
  const supervisor = options.supervisor;
  const pending = new Map<number, Pending>();
  let seq = 0;

  function onMessage(worker: Worker, msg: unknown): void {
    if (!isScrapeReply(msg)) return;
    const request = pending.get(msg[1]);
    if (request === undefined || !request.waiting.delete(worker.id)) return;
    const data = msg[2];
    if (Array.isArray(data)) request.results.push(data);
    if (request.waiting.size === 0) request.done();
  }
  cluster.on('message', onMessage);

  // prom-client is imported on the first scrape, not with vial: a primary nobody scrapes skips it.
  let primaryMetrics: ReturnType<typeof buildPrimaryMetrics> | undefined;
  async function buildPrimaryMetrics() {
    const prom = await loadPromClient();
    const own = new prom.Registry();
    const missing = new prom.Gauge({ name: 'vial_admin_scrape_missing_workers', help: 'Workers that did not answer the last scrape in time (blocked, starting or draining).', registers: [own] });
    new prom.Counter({
      name: 'vial_worker_restarts_total', help: 'Workers replaced by the supervisor, by cause (vial:worker).', labelNames: ['cause'], registers: [own],
      collect() {
        this.reset();
        for (const [cause, n] of Object.entries(supervisor?.stats().restarts ?? {})) this.inc({ cause }, n);
      },
    });
    new prom.Gauge({
      name: 'vial_workers', help: 'Workers by state.', labelNames: ['state'], registers: [own],
      collect() {
        this.reset();
        for (const state of ['starting', 'ready', 'draining']) this.set({ state }, supervisor?.stats().workers.filter((w) => w.state === state).length ?? 0);
      },
    });
    return { aggregate: (results: MetricsJson[]) => prom.AggregatorRegistry.aggregate(results), own, missing };
  }

  async function scrape(): Promise<string> {
    const { aggregate, own, missing } = await (primaryMetrics ??= buildPrimaryMetrics());
    const id = ++seq;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const results: MetricsJson[] = [];
    const waiting = new Set<number>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), scrapeTimeoutMs);
      function finish(): void {
        clearTimeout(timer);
        pending.delete(id);
        resolve();
      }
      pending.set(id, { waiting, results, done: finish });
      for (const worker of workers) {
        waiting.add(worker.id);
        worker.send(['vial:metrics-request', id] satisfies ScrapeRequest, (error: Error | null) => {
          if (error !== null && waiting.delete(worker.id) && waiting.size === 0) finish();
        });
      }
      if (workers.length === 0) finish();
    });
    missing.set(waiting.size);
    const summed = aggregate(results);
    return (await summed.metrics()) + '\n' + (await own.metrics());
  }

  const endpoints = new Map<string, Endpoint>([
    ['/healthz', { handle: () => json({ status: 'ok', pid: process.pid, role: 'primary' }) }],
    ['/readyz', {
      handle: () => {
        const ready = supervisor === undefined || supervisor.stats().workers.some((w) => w.state === 'ready' && w.responsive);
        return json({ ready, ...(ready ? {} : { reason: 'no ready worker' }) }, ready ? 200 : 503);
      },
    }],
    ['/metrics', { handle: async () => ({ status: 200, body: await scrape(), type: PROMETHEUS_TEXT }) }],
    ['/workers', { handle: () => json(supervisor?.stats() ?? { workers: [] }) }],
  ]);
  let running: RunningAdmin;
  try {
    running = await startListener(endpoints, resolved, (error) => options.log?.error({ err: error }, 'vial: primary admin endpoint failed'));
  } catch (error) {
    cluster.off('message', onMessage);
    throw error;
  }
  return {
    ...running,
    async close() {
      cluster.off('message', onMessage);
      await running.close();
    },
  };
}
