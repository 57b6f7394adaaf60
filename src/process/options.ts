/**
 * Options for the process model (cluster supervisor, worker recycling, heartbeats, graceful
 * shutdown). Pure module: no I/O, no timers.
 */

import { ConfigError } from '../errors.ts';
import { inBounds } from '../internal/bounds.ts';

export interface RecycleOptions {
  /** Recycle a worker after this many requests. 0 turns it off. Like gunicorn's `max_requests`. */
  maxRequests?: number;
  /**
   * Each worker's limit is `maxRequests + random(0..maxRequestsJitter)`, so workers started together
   * do not all recycle at the same moment. Default: 10% of `maxRequests`.
   */
  maxRequestsJitter?: number;
  /** Recycle a worker whose resident set size (RSS) goes above this. 0 turns it off. */
  maxRssBytes?: number;
}

export interface HeartbeatOptions {
  /** How often the primary pings each worker. Default 1000. */
  intervalMs?: number;
  /** A worker that has not answered for this long is killed and replaced. Default 10000. */
  timeoutMs?: number;
}

export interface RestartOptions {
  /** A worker that dies sooner than this after its start counts as crash-looping. Default 5000. */
  minUptimeMs?: number;
  /** First back-off delay for a crash-looping worker; doubles on each fast crash. Default 100. */
  initialDelayMs?: number;
  /** Ceiling of the back-off delay. Default 30000. */
  maxDelayMs?: number;
}

export interface ProcessOptions {
  /** Number of worker processes. Default 1. `os.availableParallelism()` is a good start. */
  workers?: number;
  recycle?: RecycleOptions;
  heartbeat?: HeartbeatOptions;
  restart?: RestartOptions;
  /** How long draining workers (or the single process) may take before they are forced. Default 30000. */
  gracefulTimeoutMs?: number;
  /** Connections the primary holds while no worker is ready to take them; beyond that it refuses. Default 1024. */
  maxPendingConnections?: number;
}

export interface ResolvedProcessOptions {
  readonly workers: number;
  readonly recycle: Readonly<Required<RecycleOptions>>;
  readonly heartbeat: Readonly<Required<HeartbeatOptions>>;
  readonly restart: Readonly<Required<RestartOptions>>;
  readonly gracefulTimeoutMs: number;
  readonly maxPendingConnections: number;
}

const MAX_WORKERS = 1024;
const MAX_TIMER_MS = 2_147_483_647; // setTimeout's ceiling: larger values fire after 1 ms (Node docs).

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  return inBounds(value ?? fallback, { name: `Process option \`${name}\``, min, max, advice: 'Fix the value passed to the app config or the matching VIAL_* environment variable.' }, (message) => new ConfigError('VIAL_ERR_PROCESS_OPTIONS', message));
}

export function resolveProcessOptions(partial: ProcessOptions = {}): ResolvedProcessOptions {
  const workers = integer('workers', partial.workers, 1, 1, MAX_WORKERS);

  const maxRequests = integer('recycle.maxRequests', partial.recycle?.maxRequests, 0, 0, Number.MAX_SAFE_INTEGER);
  const maxRequestsJitter = integer(
    'recycle.maxRequestsJitter',
    partial.recycle?.maxRequestsJitter,
    Math.floor(maxRequests / 10),
    0,
    Number.MAX_SAFE_INTEGER,
  );
  const maxRssBytes = integer('recycle.maxRssBytes', partial.recycle?.maxRssBytes, 0, 0, Number.MAX_SAFE_INTEGER);

  const intervalMs = integer('heartbeat.intervalMs', partial.heartbeat?.intervalMs, 1000, 10, MAX_TIMER_MS);
  const timeoutMs = integer('heartbeat.timeoutMs', partial.heartbeat?.timeoutMs, 10_000, 1, MAX_TIMER_MS);
  if (timeoutMs <= intervalMs) {
    // A worker gets one interval to answer before it stops receiving connections, so a timeout
    // at or below the interval would kill workers that were merely between two pings.
    throw new ConfigError(
      'VIAL_ERR_PROCESS_OPTIONS',
      `Process option \`heartbeat.timeoutMs\` (${timeoutMs}) must be greater than \`heartbeat.intervalMs\` ` +
        `(${intervalMs}). Raise the timeout (a few intervals is typical) or lower the interval.`,
    );
  }

  const minUptimeMs = integer('restart.minUptimeMs', partial.restart?.minUptimeMs, 5000, 0, MAX_TIMER_MS);
  const initialDelayMs = integer('restart.initialDelayMs', partial.restart?.initialDelayMs, 100, 0, MAX_TIMER_MS);
  const maxDelayMs = integer('restart.maxDelayMs', partial.restart?.maxDelayMs, 30_000, 0, MAX_TIMER_MS);
  if (maxDelayMs < initialDelayMs) {
    throw new ConfigError(
      'VIAL_ERR_PROCESS_OPTIONS',
      `Process option \`restart.maxDelayMs\` (${maxDelayMs}) is below \`restart.initialDelayMs\` ` +
        `(${initialDelayMs}). Make the ceiling at least as large as the first delay.`,
    );
  }

  const gracefulTimeoutMs = integer('gracefulTimeoutMs', partial.gracefulTimeoutMs, 30_000, 0, MAX_TIMER_MS);
  const maxPendingConnections = integer('maxPendingConnections', partial.maxPendingConnections, 1024, 0, 1_000_000);

  return Object.freeze({
    workers,
    recycle: Object.freeze({ maxRequests, maxRequestsJitter, maxRssBytes }),
    heartbeat: Object.freeze({ intervalMs, timeoutMs }),
    restart: Object.freeze({ minUptimeMs, initialDelayMs, maxDelayMs }),
    gracefulTimeoutMs,
    maxPendingConnections,
  });
}

/** The subset of a pino logger the process model uses; pass a pino instance or anything shaped like it. */
export interface ProcessLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Logger used when none is given: events still go out on diagnostics_channel. */
export const silentLogger: ProcessLogger = Object.freeze({
  info() {},
  warn() {},
  error() {},
});
