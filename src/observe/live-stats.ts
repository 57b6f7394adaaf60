/**
 * What the dashboard draws: one sample per second kept in a ring of the last five minutes (so a
 * page opened during an incident shows how it began), plus per-route latency over a short window.
 * Requests are recorded by the metrics subscriber (metrics.ts); everything else is read once per
 * tick from state the app already keeps, so the request path pays for one histogram increment.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization, ELDHistogram } from 'node:perf_hooks';
import { readAcceptQueue } from '../load/accept-queue.ts';
import { LatencyHistogram } from './latency.ts';
import type { ObservedApp } from './types.ts';

export interface LiveSample {
  /** Epoch ms at the end of the interval. */
  t: number;
  /** Requests finished per second over the interval. */
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  inFlight: number;
  queued: number;
  /** Requests refused per second over the interval (all reasons). */
  shedPerSec: number;
  eventLoopDelayP99Ms: number;
  /** 0..1 */
  eventLoopUtilization: number;
  heapUsedBytes: number;
  rssBytes: number;
  /**
   * Connections waiting in the kernel's accept queue of the listening sockets vial opened in this
   * process (all apps together), read at the previous tick (load/accept-queue.ts); null off Linux,
   * before the first read, and in `vial run --workers` workers (the primary holds the queue).
   */
  acceptQueue: number | null;
}

export interface RouteLive {
  route: string;
  requests: number;
  errors5xx: number;
  /** Over the last 10-20 s; 0 when the route was idle. */
  p99Ms: number;
}

export interface LiveStatsOptions {
  /** Default 1000. */
  intervalMs?: number;
  /** Samples kept. Default 300 (five minutes at one a second). */
  historySize?: number;
}

/** Per-route latency windows rotate every this many ticks. */
const ROUTE_WINDOW_TICKS = 10;

interface RouteEntry {
  requests: number;
  errors5xx: number;
  current: LatencyHistogram;
  previous: LatencyHistogram;
}

export class LiveStats {
  readonly intervalMs: number;
  readonly historySize: number;
  readonly #app: ObservedApp;
  readonly #ring: LiveSample[] = [];
  #acceptQueue: number | null = null;
  #readingAcceptQueue = false;
  readonly #window = new LatencyHistogram();
  readonly #routes = new Map<string, RouteEntry>();
  readonly #scratch = new LatencyHistogram();
  #delay: ELDHistogram | undefined;
  #elu: EventLoopUtilization | undefined;
  #lastShed = 0;
  #lastTick = 0;
  #ticks = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(app: ObservedApp, options: LiveStatsOptions = {}) {
    this.#app = app;
    this.intervalMs = options.intervalMs ?? 1000;
    this.historySize = options.historySize ?? 300;
  }

  /** Hot path: called once per finished request. */
  record(route: string, status: number, durationMs: number): void {
    this.#window.record(durationMs);
    let entry = this.#routes.get(route);
    if (entry === undefined) {
      entry = { requests: 0, errors5xx: 0, current: new LatencyHistogram(), previous: new LatencyHistogram() };
      this.#routes.set(route, entry);
    }
    entry.requests++;
    if (status >= 500) entry.errors5xx++;
    entry.current.record(durationMs);
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#delay = monitorEventLoopDelay({ resolution: 10 });
    this.#delay.enable();
    this.#elu = performance.eventLoopUtilization();
    this.#lastShed = totalShed(this.#app);
    this.#lastTick = performance.now();
    // Unref'd: sampling must never keep a process alive that is otherwise done.
    this.#timer = setInterval(() => this.tick(), this.intervalMs).unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#delay?.disable();
    this.#delay = undefined;
  }

  /** Closes the current interval into a sample (the timer calls it; tests may too). */
  tick(): LiveSample {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.#lastTick) / 1000);
    this.#lastTick = now;
    const admission = this.#app.load.admission;
    const shed = totalShed(this.#app);
    const elu = performance.eventLoopUtilization();
    const delay = this.#delay;
    const memory = process.memoryUsage();
    const sample: LiveSample = {
      t: Date.now(),
      rps: round(this.#window.count / seconds),
      p50Ms: round(this.#window.percentile(0.5)),
      p95Ms: round(this.#window.percentile(0.95)),
      p99Ms: round(this.#window.percentile(0.99)),
      inFlight: admission.inFlight,
      queued: admission.queued,
      shedPerSec: round((shed - this.#lastShed) / seconds),
      eventLoopDelayP99Ms: delay === undefined || delay.count === 0 ? 0 : round(delay.percentile(99) / 1e6),
      eventLoopUtilization: this.#elu === undefined ? 0 : round(performance.eventLoopUtilization(elu, this.#elu).utilization),
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      acceptQueue: this.#acceptQueue,
    };
    // Read off the loop (the file read runs on libuv's pool); the next sample carries it. One read
    // at a time, so a slow one (a busy pool) never overwrites a newer value.
    if (!this.#readingAcceptQueue) {
      this.#readingAcceptQueue = true;
      void readAcceptQueue().then((queued) => {
        this.#acceptQueue = queued;
        this.#readingAcceptQueue = false;
      });
    }
    delay?.reset();
    this.#elu = elu;
    this.#lastShed = shed;
    this.#window.reset();
    if (++this.#ticks % ROUTE_WINDOW_TICKS === 0) {
      for (const entry of this.#routes.values()) {
        const old = entry.previous;
        old.reset();
        entry.previous = entry.current;
        entry.current = old;
      }
    }
    this.#ring.push(sample);
    if (this.#ring.length > this.historySize) this.#ring.shift();
    return sample;
  }

  /** Samples newer than `sinceT` (epoch ms), oldest first; all of them without it. */
  samples(sinceT = 0): LiveSample[] {
    return sinceT === 0 ? [...this.#ring] : this.#ring.filter((s) => s.t > sinceT);
  }

  get last(): LiveSample | undefined {
    return this.#ring.at(-1);
  }

  routes(): RouteLive[] {
    const out: RouteLive[] = [];
    const scratch = this.#scratch;
    for (const [route, entry] of this.#routes) {
      scratch.reset();
      scratch.add(entry.previous);
      scratch.add(entry.current);
      out.push({ route, requests: entry.requests, errors5xx: entry.errors5xx, p99Ms: round(scratch.percentile(0.99)) });
    }
    return out;
  }
}

function totalShed(app: ObservedApp): number {
  let total = 0;
  for (const n of Object.values(app.load.admission.snapshot().shed)) total += n;
  return total;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
