/**
 * The app's admin endpoints: health, metrics, routes, caches, allocation sites, heap snapshots,
 * event-loop blocks, load, security posture and the dashboard's compact /stats. Each handler reads
 * state the app already keeps; nothing here runs on the request path. The admin listener shares the
 * event loop with the app, so handlers stay cheap (allocation profiles are cached for a few seconds).
 */
import type { AllocationSnapshot } from '../memory/allocation.ts';
import { diffAllocationSnapshots } from '../memory/allocation.ts';
import { takeHeapSnapshot } from '../memory/heap-snapshot.ts';
import { fullGc } from '../memory/full-gc.ts';
import { connectionStats } from '../load/connections.ts';
import { cacheRegistry } from '../memory/registry.ts';
import { blockKind, formatFrame } from '../process/block-report.ts';
import type { BlockReport } from '../process/block-report.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ObservedApp } from '../observe/types.ts';
import { errorReply, json } from './http.ts';
import type { Endpoint, Reply } from './http.ts';

const TOP_SITES = 25;
const KEPT_SNAPSHOTS = 10;
/**
 * The dashboard asks every second; an allocation profile is re-read at most this often. Reading one
 * is synchronous in V8 and took ~200 ms with a large profile (Playwright in-process) in our tests.
 */
const SITES_REFRESH_MS = 30_000;
/** A block this recent turns the dashboard status to BLOCKED. */
const BLOCKED_RECENT_MS = 15_000;

function samplerOff(): Reply {
  return errorReply(503, 'VIAL_ERR_ALLOCATION_SAMPLER_STOPPED',
    'Allocation sampling is not running in this process: it starts with app.listen() (or app.startMonitors()) unless memory.allocationSampling.enabled is false.');
}

/** A long turn's route is only where the watchdog's first look landed: `sampledRoute`, never `route`. */
function block(report: BlockReport, frames = 12): object {
  const kind = blockKind(report);
  const longTurn = kind === 'long-turn';
  return {
    kind,
    confirmed: report.confirmed,
    route: longTurn ? null : report.route,
    sampledRoute: longTurn ? report.route : null,
    durationMs: report.durationMs,
    at: report.at,
    userFrame: report.userFrame === null ? null : `${report.userFrame.functionName || '<anonymous>'} ${formatFrame(report.userFrame)}`,
    stack: report.stack.slice(0, frames).map((f) => `${f.functionName || '<anonymous>'} ${formatFrame(f)}`),
    stackError: report.stackError,
  };
}

function sites(snapshot: AllocationSnapshot, limit = TOP_SITES): object {
  return {
    takenAt: snapshot.takenAt,
    samplingIntervalBytes: snapshot.samplingIntervalBytes,
    totalBytes: snapshot.totalBytes,
    internalBytes: snapshot.internalBytes,
    sites: snapshot.sites.slice(0, limit).map((s) => ({ functionName: s.functionName, location: s.location, selfBytes: s.selfBytes, count: s.count })),
    routes: snapshot.routes,
  };
}

export function appEndpoints(app: ObservedApp, metrics: Metrics, startedAt: number): Map<string, Endpoint> {
  const kept: AllocationSnapshot[] = [];
  let cachedSites: { at: number; value: object } | undefined;

  async function allocationSnapshot(): Promise<AllocationSnapshot | undefined> {
    const sampler = app.monitors.sampler;
    if (sampler === undefined || !sampler.running) return undefined;
    const snapshot = await sampler.snapshot();
    kept.push(snapshot);
    if (kept.length > KEPT_SNAPSHOTS) kept.shift();
    return snapshot;
  }

  async function topSitesCached(): Promise<object | null> {
    if (cachedSites !== undefined && Date.now() - cachedSites.at < SITES_REFRESH_MS) return cachedSites.value;
    const sampler = app.monitors.sampler;
    if (sampler === undefined || !sampler.running) return null;
    // Intentionally not kept for /diff: the dashboard's reads must not move an operator's baseline.
    const value = sites(await sampler.snapshot(), 10);
    cachedSites = { at: Date.now(), value };
    return value;
  }

  function status(): { status: 'OK' | 'SHEDDING' | 'BUSY' | 'BLOCKED'; reasons: string[] } {
    const reasons: string[] = [];
    const recent = (app.monitors.watchdog?.recentBlocks() ?? []).filter((b) => Date.now() - b.at < BLOCKED_RECENT_MS);
    const lastBlock = recent.findLast((b) => blockKind(b) === 'block');
    if (lastBlock !== undefined) {
      reasons.push(`event loop blocked ${lastBlock.durationMs} ms${lastBlock.route === null ? ' outside any route' : ` in ${lastBlock.route}`}`);
      return { status: 'BLOCKED', reasons };
    }
    const lastTurn = recent.findLast((b) => blockKind(b) === 'long-turn');
    if (lastTurn !== undefined) reasons.push(`a long turn of many requests held the event loop ${lastTurn.durationMs} ms; no single request held it`);
    const lastOutside = recent.findLast((b) => blockKind(b) === 'outside');
    if (lastOutside !== undefined) {
      const frame = lastOutside.userFrame ?? lastOutside.stack[0];
      reasons.push(`the event loop was held ${lastOutside.durationMs} ms outside any request${frame === undefined ? '' : ` (sampled at ${formatFrame(frame)})`}`);
    }
    if (reasons.length > 0) return { status: 'BUSY', reasons };
    if (app.load.pressure.overloaded) reasons.push('event-loop pressure');
    const samples = metrics.live.samples().slice(-5);
    if (samples.some((s) => s.shedPerSec > 0)) reasons.push('requests refused in the last 5 s');
    return { status: reasons.length > 0 ? 'SHEDDING' : 'OK', reasons };
  }

  const endpoints = new Map<string, Endpoint>();
  const get = (path: string, handle: Endpoint['handle']): void => void endpoints.set(path, { handle });

  get('/healthz', () => json({ status: 'ok', pid: process.pid, uptimeSec: Math.round((Date.now() - startedAt) / 1000) }));
  get('/readyz', () => {
    const { closing } = app.load.admission.snapshot();
    const overloaded = app.load.pressure.overloaded;
    const ready = !closing && !overloaded;
    return json({ ready, ...(ready ? {} : { reason: closing ? 'closing' : 'overloaded' }) }, ready ? 200 : 503);
  });
  get('/metrics', async () => {
    const registry = await metrics.registry();
    return { status: 200, body: await registry.metrics(), type: registry.contentType };
  });
  get('/routes', () => json({
    routes: app.routeList.map((r) => ({
      key: r.info.key, method: r.method, name: r.info.name ?? null, blueprint: r.info.blueprint ?? null,
      concurrency: r.options.concurrency ?? null, timeoutMs: r.options.timeoutMs ?? null, csrf: r.options.csrf ?? true,
    })),
  }));
  get('/caches', () => json({ caches: cacheRegistry.list() }));
  get('/memory/allocations', async () => {
    const snapshot = await allocationSnapshot();
    return snapshot === undefined ? samplerOff() : json(sites(snapshot));
  });
  get('/memory/allocations/diff', async (url) => {
    const sinceText = url.searchParams.get('since');
    const since = sinceText === null ? undefined : Number(sinceText);
    const older = since === undefined ? kept.at(-1) : kept.find((s) => s.takenAt === since);
    if (since !== undefined && older === undefined) {
      return errorReply(404, 'VIAL_ERR_ADMIN_SNAPSHOT_UNKNOWN', `No allocation snapshot taken at ${sinceText}; the last ${KEPT_SNAPSHOTS} are kept: ${kept.map((s) => s.takenAt).join(', ') || 'none yet'}.`);
    }
    const newer = await allocationSnapshot();
    if (newer === undefined) return samplerOff();
    if (older === undefined) return json({ baseline: true, takenAt: newer.takenAt, message: 'First snapshot taken as the baseline; call again (or pass ?since=' + String(newer.takenAt) + ') to see what grew.' });
    const diff = diffAllocationSnapshots(older, newer);
    return json({ since: older.takenAt, takenAt: newer.takenAt, elapsedMs: diff.elapsedMs, totalGrowthBytes: diff.totalGrowthBytes, sites: diff.sites.slice(0, TOP_SITES), routes: diff.routes });
  });
  endpoints.set('/memory/heap-snapshot', {
    methods: ['POST'],
    // takeHeapSnapshot refuses (503 VIAL_ERR_HEAP_SNAPSHOT_REFUSED, exposed) when memory is short.
    handle: async () => json(await takeHeapSnapshot(app.config.memory.heapSnapshot)),
  });
  // A full GC, then heap used: retention without the garbage V8 has not collected yet. POST only
  // (it pauses the app for the collection); `vial doctor --admin` uses it for its leak check.
  endpoints.set('/memory/gc', { methods: ['POST'], handle: () => json(fullGc()) });
  get('/loop/blocks', () => json({ watchdog: app.monitors.watchdog !== undefined, blocks: (app.monitors.watchdog?.recentBlocks() ?? []).map((b) => block(b)).reverse() }));
  get('/load', () => json({
    admission: app.load.admission.snapshot(),
    acceptQueue: metrics.live.last?.acceptQueue ?? null,
    // Process-wide: every server and accept socket of this process (load/connections.ts).
    connections: connectionStats(),
    pressure: { enabled: app.config.load.pressure.enabled, overloaded: app.load.pressure.overloaded, lastSample: app.load.pressure.lastSample },
    deadlines: app.load.deadlines.stats(),
    offload: app.load.offload.stats(),
  }));
  get('/security', () => {
    const s = app.config.security;
    const store = s.session.store;
    return json({
      session: {
        store: typeof store === 'string' ? store : (store.constructor.name || 'custom'),
        cookie: { name: s.session.cookieName, secure: s.session.secure, httpOnly: true, sameSite: s.session.sameSite },
        idleTimeoutMs: s.session.idleTimeoutMs,
        absoluteTimeoutMs: s.session.absoluteTimeoutMs,
        secretKeys: s.secretKeys.length,
      },
      csrf: { enabled: s.csrf.enabled, trustedOrigins: s.csrf.trustedOrigins, exemptPaths: s.csrf.exemptPaths, refusals: { ...app.security.csrfRefusals } },
    });
  });
  get('/stats', async (url) => {
    const since = Number(url.searchParams.get('since') ?? 0);
    const admission = app.load.admission.snapshot();
    const gates = new Map(admission.routes.map((r) => [r.route, r]));
    const routes = metrics.live.routes().map((r) => ({ ...r, inFlight: gates.get(r.route)?.inFlight ?? 0, queued: gates.get(r.route)?.queued ?? 0, shed: gates.get(r.route)?.shed ?? 0 }));
    for (const gate of admission.routes) {
      if (!routes.some((r) => r.route === gate.route) && gate.shed + gate.inFlight > 0) routes.push({ route: gate.route, requests: 0, errors5xx: 0, p99Ms: 0, inFlight: gate.inFlight, queued: gate.queued, shed: gate.shed });
    }
    routes.sort((a, b) => b.requests - a.requests);
    return json({
      name: app.config.name,
      pid: process.pid,
      intervalMs: metrics.live.intervalMs,
      ...status(),
      samples: metrics.live.samples(Number.isFinite(since) ? since : 0),
      shed: admission.shed,
      connections: connectionStats(),
      routes,
      rateLimited: metrics.rateLimited().slice(0, 20),
      caches: cacheRegistry.list(),
      allocations: await topSitesCached(),
      blocks: (app.monitors.watchdog?.recentBlocks() ?? []).slice(-10).reverse().map((b) => block(b, 4)),
    });
  });
  return endpoints;
}
