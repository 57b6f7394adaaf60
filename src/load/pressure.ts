/**
 * Event-loop pressure. Each sample covers only the last interval (the delay histogram is
 * reset and utilisation is a delta), so the signal follows the present, not an average since
 * start. `overloaded` turns on after `overloadSamples` consecutive samples over a limit and off
 * only after `recoverSamples` consecutive samples under `recoverRatio` x limit: hysteresis, so
 * shedding does not flap on the boundary. The admission hot path reads `overloaded` as a plain
 * property; all the work happens on one unref'd timer.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization, ELDHistogram } from 'node:perf_hooks';
import { resolvePressureOptions } from './options.ts';
import type { PressureOptions } from './options.ts';
import { typedChannel } from '../internal/channels.ts';

export interface PressureSample {
  /** p99 event-loop delay over the last interval, in milliseconds. */
  delayP99Ms: number;
  /** Event-loop utilisation over the last interval, 0..1. */
  utilization: number;
}

/** Where samples come from; injectable so tests can drive the state machine directly. */
export interface PressureSource {
  start(): void;
  sample(): PressureSample;
  stop(): void;
}

export interface PressureTransition extends PressureSample {
  overloaded: boolean;
}

/** `vial:pressure`: each switch into and out of shedding. */
export const pressureChannel = typedChannel<PressureTransition>('vial:pressure');

/** The process's own event loop: monitorEventLoopDelay plus eventLoopUtilization deltas. */
export function eventLoopSource(): PressureSource {
  let histogram: ELDHistogram | undefined;
  let last: EventLoopUtilization | undefined;
  return {
    start() {
      histogram = monitorEventLoopDelay({ resolution: 10 });
      histogram.enable();
      last = performance.eventLoopUtilization();
    },
    sample() {
      const delayP99Ms = histogram === undefined || histogram.count === 0 ? 0 : histogram.percentile(99) / 1e6;
      histogram?.reset();
      const now = performance.eventLoopUtilization();
      const utilization = last === undefined ? 0 : performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return { delayP99Ms, utilization };
    },
    stop() {
      histogram?.disable();
      histogram = undefined;
    },
  };
}

export class PressureMonitor {
  /** Read on every admission: a plain field, not a getter with work behind it. */
  overloaded = false;
  /** The last sample's delay as a share of its limit (1 = at the limit); admission steers by it under pressure. */
  delayRatio = 0;
  /** Admitted work per loop turn while overloaded (admission reads it once). */
  readonly turnBudgetMs: number;
  /** The delay limit (admission reads it once: a population that fits in it is not shed). */
  readonly maxEventLoopDelayMs: number;
  readonly #opts: Readonly<PressureOptions>;
  readonly #source: PressureSource;
  #over = 0;
  #under = 0;
  #last: PressureSample = { delayP99Ms: 0, utilization: 0 };
  #timer: NodeJS.Timeout | undefined;

  constructor(options: Partial<PressureOptions> = {}, source: PressureSource = eventLoopSource()) {
    this.#opts = resolvePressureOptions(options);
    this.turnBudgetMs = this.#opts.turnBudgetMs;
    this.maxEventLoopDelayMs = this.#opts.maxEventLoopDelayMs;
    this.#source = source;
  }

  start(): this {
    if (this.#timer !== undefined || !this.#opts.enabled) return this;
    this.#source.start();
    this.#timer = setInterval(() => { this.observe(this.#source.sample()); }, this.#opts.sampleIntervalMs).unref();
    return this;
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#source.stop();
  }

  /** Feeds one sample to the state machine (the timer calls this; tests may too). */
  observe(sample: PressureSample): void {
    this.#last = sample;
    const o = this.#opts;
    this.delayRatio = sample.delayP99Ms / o.maxEventLoopDelayMs;
    // Utilisation alone is not overload: a loop that is busy 100% of the time but still answers
    // within a fraction of the delay limit serves everyone (a benchmark looks like that). It
    // counts once delay has also climbed past half its limit, which is when queues start to form.
    const over = sample.delayP99Ms > o.maxEventLoopDelayMs ||
      (sample.utilization > o.maxEventLoopUtilization && sample.delayP99Ms > o.maxEventLoopDelayMs / 2);
    const under = sample.delayP99Ms < o.maxEventLoopDelayMs * o.recoverRatio &&
      sample.utilization < o.maxEventLoopUtilization * o.recoverRatio;
    // A sample between the two thresholds breaks both streaks: neither state is confirmed.
    this.#over = over ? this.#over + 1 : 0;
    this.#under = under ? this.#under + 1 : 0;
    if (!this.overloaded && this.#over >= o.overloadSamples) this.#flip(true, sample);
    else if (this.overloaded && this.#under >= o.recoverSamples) this.#flip(false, sample);
  }

  get lastSample(): PressureSample {
    return this.#last;
  }

  #flip(overloaded: boolean, sample: PressureSample): void {
    this.overloaded = overloaded;
    this.#over = 0;
    this.#under = 0;
    if (pressureChannel.hasSubscribers) {
      const transition: PressureTransition = { overloaded, ...sample };
      pressureChannel.publish(transition);
    }
  }
}
