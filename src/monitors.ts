/**
 * The process-wide monitors of one app: event-loop pressure, the blocked-loop watchdog, allocation
 * sampling, the leak alarm and the metrics; started by `listen()` / `vial run`, stopped at shutdown.
 * Also the one policy that joins two of them: a route the watchdog caught blocking the loop is
 * limited by admission for a while.
 */
import type { Logger } from 'pino';
import type { VialConfig } from './config.ts';
import { peekContext } from './context.ts';
import { VialError } from './errors.ts';
import type { LoadProtection } from './load/protection.ts';
import { createAllocationSampler } from './memory/allocation.ts';
import type { AllocationSampler } from './memory/allocation.ts';
import { createLeakAlarm } from './memory/leak-alarm.ts';
import type { LeakAlarm } from './memory/leak-alarm.ts';
import { createMetrics } from './observe/metrics.ts';
import type { Metrics } from './observe/metrics.ts';
import type { MonitorsView, ObservedApp } from './observe/types.ts';
import type { BlockReport } from './process/block-report.ts';
import { installWatchdog } from './process/watchdog.ts';
import type { Watchdog } from './process/watchdog.ts';

/** How long a route the watchdog caught blocking the event loop stays limited (concurrency 1, no queue). */
const BLOCKING_ROUTE_PENALTY_MS = 60_000;

export class Monitors implements MonitorsView {
  readonly #config: VialConfig;
  readonly #log: Logger;
  readonly #load: LoadProtection;
  #watchdog: Watchdog | undefined;
  #sampler: AllocationSampler | undefined;
  #leakAlarm: LeakAlarm | undefined;
  #metrics: Metrics | undefined;
  #started = false;

  constructor(config: VialConfig, log: Logger, load: LoadProtection) {
    this.#config = config;
    this.#log = log;
    this.#load = load;
  }

  get watchdog(): Watchdog | undefined {
    return this.#watchdog;
  }

  get sampler(): AllocationSampler | undefined {
    return this.#sampler;
  }

  get leakAlarm(): LeakAlarm | undefined {
    return this.#leakAlarm;
  }

  get metrics(): Metrics | undefined {
    return this.#metrics;
  }

  /**
   * Starts pressure sampling, allocation sampling, the metrics and the leak alarm. The watchdog
   * thread is left for the first request (`watchFromFirstRequest`): a Node worker thread costs
   * ~12 MiB of RSS an idle process should not pay (issue 16), and startup work before any request
   * (imports, warm-up) is not a request's block to report (issue 15).
   */
  async start(app: ObservedApp): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#load.start();
    const memory = this.#config.memory;
    if (memory.allocationSampling.enabled) {
      const sampler = createAllocationSampler(memory.allocationSampling);
      try {
        await sampler.start();
        this.#sampler = sampler;
      } catch (error) {
        // V8 allows one sampling profiler per thread: a second app in this process shares nothing.
        if (!(error instanceof VialError && error.code === 'VIAL_ERR_ALLOCATION_SAMPLER_BUSY')) throw error;
        this.#log.debug('vial: allocation sampling already runs in this process (another app started it)');
      }
    }
    this.#metrics = createMetrics(app);
    if (memory.leakAlarm.enabled) {
      this.#leakAlarm = createLeakAlarm({ ...memory.leakAlarm, ...(this.#sampler === undefined ? {} : { sampler: this.#sampler }), log: this.#log });
      this.#leakAlarm.start();
    }
  }

  /**
   * Installs the watchdog (once; later calls do nothing). Called by the server at its first
   * request, and by `startWatchdog()` for callers that want it watching before any request.
   */
  watch(): Watchdog | undefined {
    if (!this.#started || !this.#config.watchdog.enabled || this.#watchdog !== undefined) return this.#watchdog;
    this.#watchdog = installWatchdog({
      ...this.#config.watchdog,
      log: this.#log,
      // Evaluated by the watchdog while the main thread is blocked (an inspector interrupt runs on
      // top of the blocked stack), so AsyncLocalStorage still holds that request.
      getActiveRoute: () => peekContext()?.route?.key,
      getActiveRequest: peekContext,
      onBlock: (report) => this.#penalize(report),
    });
    return this.#watchdog;
  }

  /** `watch()`, then waits until the thread watches (bounded: a thread that cannot start logs why). */
  async startWatchdog(maxWaitMs = 2_000): Promise<void> {
    const watchdog = this.watch();
    if (watchdog === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    // Ref'd on purpose (an unref'd one lets a script whose only work is this await exit early).
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)));
    await Promise.race([watchdog.ready(), timeout]);
    clearTimeout(timer);
  }

  /**
   * Runs of a route that held the loop are spaced ten times its block apart: it keeps at most ~10%
   * of the loop. Only confirmed blocks count: a long turn of many requests (a burst of new
   * connections) says nothing about the route that happened to run when it was sampled.
   */
  #penalize(report: BlockReport): void {
    if (report.route !== null && report.confirmed) this.#load.admission.penalize(report.route, BLOCKING_ROUTE_PENALTY_MS, report.durationMs * 10);
  }

  /** Stops everything started; a later `start()` starts afresh (a restarted app). */
  async stop(): Promise<void> {
    this.#leakAlarm?.stop();
    await this.#sampler?.stop();
    await this.#watchdog?.stop();
    this.#metrics?.close();
    this.#leakAlarm = undefined;
    this.#sampler = undefined;
    this.#watchdog = undefined;
    this.#metrics = undefined;
    this.#started = false;
  }
}
