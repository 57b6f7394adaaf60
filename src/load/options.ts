/**
 * Load-protection options: defaults, bounds, freezing. Pure (no I/O, no timers).
 * Each group resolves on its own so the lead can hand one slice to each module
 * (`createAdmission(config.load.admission)`); docs/load.md explains every default.
 */
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.ts';
import { inBounds } from '../internal/bounds.ts';

export interface AdmissionOptions {
  /** Requests handled at once by this process; more wait in the queue. */
  maxInFlight: number;
  /** Requests waiting for a slot; more are refused at once (503). */
  maxQueue: number;
  /** Longest a request may wait in the queue before it is refused (503). */
  maxQueueWaitMs: number;
  /** Default per-route concurrency as a share of `maxInFlight` (bulkhead). */
  routeConcurrencyShare: number;
  /** Default per-route queue length as a share of `maxQueue`. */
  routeQueueShare: number;
  /** Value of `Retry-After` sent with a refusal. */
  retryAfterSec: number;
}

export interface DeadlineOptions {
  /** Default per-request deadline; routes override it with `timeoutMs`. */
  requestTimeoutMs: number;
  /** How often the single deadline scan runs (the deadline's precision). */
  checkIntervalMs: number;
}

export interface PressureOptions {
  enabled: boolean;
  maxEventLoopDelayMs: number;
  maxEventLoopUtilization: number;
  sampleIntervalMs: number;
  /** Consecutive samples over a limit before shedding starts. */
  overloadSamples: number;
  /** Consecutive samples under `recoverRatio` x limit before shedding stops. */
  recoverSamples: number;
  recoverRatio: number;
  /**
   * While overloaded, admitted work per event-loop turn: once a turn has run this long, the rest
   * of what it reads is refused, so turns stay short (see pressure-allowance.ts).
   */
  turnBudgetMs: number;
}

export interface OffloadOptions {
  maxThreads: number;
  /** Tasks waiting for a thread; more are refused (VIAL_ERR_OFFLOAD_QUEUE_FULL). */
  maxQueue: number;
  idleTimeoutMs: number;
}

export interface ServerLimitOptions {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeadersCount: number;
  maxHeaderSizeBytes: number;
  maxRequestsPerSocket: number;
  /** How often Node checks headersTimeout/requestTimeout (a createServer option). */
  connectionsCheckingIntervalMs: number;
  /** Pending connections the kernel queues before accept() (`listen()`'s backlog); capped by net.core.somaxconn. */
  listenBacklog: number;
  /** Listening sockets on the port (Linux SO_REUSEPORT; 1 elsewhere): each accepts one connection per loop turn (acceptors.ts). */
  acceptors: number;
  /**
   * Connections open at once in this process, across every server and accept socket; more are
   * closed as they arrive (connections.ts). Default derived from the open-file limit; 0: no cap.
   */
  maxConnections: number;
  /** Bytes of an unread request body drained after an early response before closing (linger.ts); 0: close at once. */
  lingerBytes: number;
  /** Longest that drain takes, from the end of the response; 0: close at once. */
  lingerMs: number;
}

export interface LoadOptions {
  admission: AdmissionOptions;
  deadlines: DeadlineOptions;
  pressure: PressureOptions;
  offload: OffloadOptions;
  server: ServerLimitOptions;
}

export type LoadOptionsInput = { [K in keyof LoadOptions]?: Partial<LoadOptions[K]> };

const CODE = 'VIAL_ERR_LOAD_OPTION';

function num(group: string, name: string, value: number, min: number, max: number, integer = true): number {
  const advice = 'Fix the option (or its VIAL_* variable) or leave it out for the default.';
  return inBounds(value, { name: `load.${group}.${name}`, min, max, integer, advice }, (message) => new ConfigError(CODE, message));
}

export function resolveAdmissionOptions(input: Partial<AdmissionOptions> = {}): Readonly<AdmissionOptions> {
  const g = 'admission';
  return Object.freeze({
    maxInFlight: num(g, 'maxInFlight', input.maxInFlight ?? 1024, 1, 1_000_000),
    maxQueue: num(g, 'maxQueue', input.maxQueue ?? 512, 0, 1_000_000),
    maxQueueWaitMs: num(g, 'maxQueueWaitMs', input.maxQueueWaitMs ?? 1000, 1, 60_000),
    routeConcurrencyShare: num(g, 'routeConcurrencyShare', input.routeConcurrencyShare ?? 0.5, 0.01, 1, false),
    routeQueueShare: num(g, 'routeQueueShare', input.routeQueueShare ?? 0.5, 0, 1, false),
    retryAfterSec: num(g, 'retryAfterSec', input.retryAfterSec ?? 1, 0, 3600),
  });
}

export function resolveDeadlineOptions(input: Partial<DeadlineOptions> = {}): Readonly<DeadlineOptions> {
  const g = 'deadlines';
  return Object.freeze({
    requestTimeoutMs: num(g, 'requestTimeoutMs', input.requestTimeoutMs ?? 30_000, 1, 3_600_000),
    checkIntervalMs: num(g, 'checkIntervalMs', input.checkIntervalMs ?? 50, 1, 10_000),
  });
}

/** load.pressure.turnBudgetMs when nothing says otherwise (admission falls back to it too). */
export const DEFAULT_TURN_BUDGET_MS = 5;

export function resolvePressureOptions(input: Partial<PressureOptions> = {}): Readonly<PressureOptions> {
  const g = 'pressure';
  return Object.freeze({
    enabled: input.enabled ?? true,
    maxEventLoopDelayMs: num(g, 'maxEventLoopDelayMs', input.maxEventLoopDelayMs ?? 100, 1, 60_000),
    maxEventLoopUtilization: num(g, 'maxEventLoopUtilization', input.maxEventLoopUtilization ?? 0.98, 0.01, 1, false),
    sampleIntervalMs: num(g, 'sampleIntervalMs', input.sampleIntervalMs ?? 250, 10, 60_000),
    overloadSamples: num(g, 'overloadSamples', input.overloadSamples ?? 3, 1, 1000),
    recoverSamples: num(g, 'recoverSamples', input.recoverSamples ?? 8, 1, 1000),
    recoverRatio: num(g, 'recoverRatio', input.recoverRatio ?? 0.8, 0.1, 1, false),
    turnBudgetMs: num(g, 'turnBudgetMs', input.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS, 0.1, 60_000, false),
  });
}

export function resolveOffloadOptions(input: Partial<OffloadOptions> = {}): Readonly<OffloadOptions> {
  const g = 'offload';
  // Intentionally one core fewer than the machine has: the main thread still runs the event loop.
  const threads = input.maxThreads ?? Math.max(1, availableParallelism() - 1);
  return Object.freeze({
    maxThreads: num(g, 'maxThreads', threads, 1, 1024),
    maxQueue: num(g, 'maxQueue', input.maxQueue ?? 64, 0, 1_000_000),
    idleTimeoutMs: num(g, 'idleTimeoutMs', input.idleTimeoutMs ?? 30_000, 0, 3_600_000),
  });
}

/**
 * Descriptors assumed where the process's own limit cannot be read (no /proc/self/limits: macOS,
 * Windows): the common POSIX soft default.
 */
export const FALLBACK_OPEN_FILE_LIMIT = 1024;

/**
 * The default connection cap for a soft RLIMIT_NOFILE of `openFileLimit`: three quarters of the
 * descriptors, less 64. Each connection is one descriptor; the rest is headroom for what a
 * process also opens while it serves them: stdio, the listening and admin sockets, log and static
 * files, session stores (Redis, SQLite), upstream sockets (a proxying route opens one per request),
 * offload threads. Past the limit accept() fails with EMFILE and every one of those with it; at
 * the cap only new connections are refused. 1,024 gives 704; 65,536 gives 49,088.
 */
export function defaultMaxConnections(openFileLimit: number): number {
  return Math.max(16, Math.floor((openFileLimit * 3) / 4) - 64);
}

export interface SystemLimits {
  /** The soft RLIMIT_NOFILE of this process (connections.ts reads it). */
  readonly openFileLimit: number;
}

export function resolveServerLimitOptions(input: Partial<ServerLimitOptions> = {}, system: SystemLimits = { openFileLimit: FALLBACK_OPEN_FILE_LIMIT }): Readonly<ServerLimitOptions> {
  const g = 'server';
  const headersTimeoutMs = num(g, 'headersTimeoutMs', input.headersTimeoutMs ?? 10_000, 1, 600_000);
  const requestTimeoutMs = num(g, 'requestTimeoutMs', input.requestTimeoutMs ?? 30_000, 1, 3_600_000);
  // Node itself refuses requestTimeout < headersTimeout (ERR_OUT_OF_RANGE at listen time); say so earlier.
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError(
      CODE,
      `load.server.requestTimeoutMs (${requestTimeoutMs}) is shorter than headersTimeoutMs (${headersTimeoutMs}); ` +
        'Node requires the whole request to be allowed at least as long as its headers. Raise requestTimeoutMs.',
    );
  }
  return Object.freeze({
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: num(g, 'keepAliveTimeoutMs', input.keepAliveTimeoutMs ?? 5_000, 0, 600_000),
    maxHeadersCount: num(g, 'maxHeadersCount', input.maxHeadersCount ?? 100, 1, 10_000),
    maxHeaderSizeBytes: num(g, 'maxHeaderSizeBytes', input.maxHeaderSizeBytes ?? 16_384, 1024, 1_048_576),
    // Off by default: Node's implementation costs ~10% of a small route's throughput (measured with
    // bench/ on 2026-11-24: a Keep-Alive header built per response plus reconnects). Set it when a
    // balancer needs long-lived keep-alive clients spread out over time.
    maxRequestsPerSocket: num(g, 'maxRequestsPerSocket', input.maxRequestsPerSocket ?? 0, 0, 1_000_000_000),
    connectionsCheckingIntervalMs: num(
      g, 'connectionsCheckingIntervalMs', input.connectionsCheckingIntervalMs ?? 1000, 10, 60_000),
    // Node's default is 511. A loop busy for 100 ms while new clients arrive (an overload, a burst
    // after a deploy) overflows that queue and the kernel drops SYNs: those clients wait 1, 3, 7 s
    // for their retransmits (bench overload on a 0.3 ms route: 2,401 drops, /cpu p99 9.5 s while
    // p90 was 54 ms). A longer queue holds them until accept() instead.
    listenBacklog: num(g, 'listenBacklog', input.listenBacklog ?? 2048, 1, 65_535),
    // Node accepts one connection per listening socket per loop turn; 16 sockets took in a burst of
    // 1,000 connections in ~2 s where one took over 15 s (bench overload on /cpu, acceptors.ts).
    acceptors: num(g, 'acceptors', input.acceptors ?? 16, 1, 256),
    maxConnections: num(g, 'maxConnections', input.maxConnections ?? defaultMaxConnections(system.openFileLimit), 0, 1_000_000_000),
    // Go's net/http reads up to 256 KiB of an unread body to reuse the connection; these bytes are
    // discarded as they come (no memory held), so 1 MiB costs only bandwidth and covers what a
    // client has in flight before it sees the answer. 5 s is nginx's lingering_timeout: a client
    // that stops at the answer closes within a round trip; one still sending after 5 s is cut.
    lingerBytes: num(g, 'lingerBytes', input.lingerBytes ?? 1_048_576, 0, 1_073_741_824),
    lingerMs: num(g, 'lingerMs', input.lingerMs ?? 5_000, 0, 600_000),
  });
}

export function resolveLoadOptions(input: LoadOptionsInput = {}, system?: SystemLimits): Readonly<LoadOptions> {
  return Object.freeze({
    admission: resolveAdmissionOptions(input.admission),
    deadlines: resolveDeadlineOptions(input.deadlines),
    pressure: resolvePressureOptions(input.pressure),
    offload: resolveOffloadOptions(input.offload),
    server: resolveServerLimitOptions(input.server, system),
  });
}
