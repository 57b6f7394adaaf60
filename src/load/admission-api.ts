/**
 * What admission (admission.ts) offers and needs: its interface, route gates, snapshots and the
 * dependencies it is built with. Types only.
 */
import type { Admitted, Refusal, ShedReason } from './queue.ts';

export type Entry = Admitted | Refusal | Promise<Admitted | Refusal>;

export interface RouteGateOptions {
  /** Requests this route may run at once. Default: `routeConcurrencyShare` of `maxInFlight`. */
  concurrency?: number;
  /** Requests this route may have waiting. Default: `routeQueueShare` of `maxQueue`. */
  maxQueue?: number;
}

/** A route's bulkhead, created once at route registration. Read-only outside this module. */
export interface RouteGate {
  readonly key: string;
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly inFlight: number;
  readonly queued: number;
  readonly shed: number;
}

export interface PressureSignal {
  readonly overloaded: boolean;
  /** The latest event-loop delay over its limit (1 = at the limit), when known. */
  readonly delayRatio?: number;
  /** Milliseconds of admitted work per loop turn while overloaded (load.pressure.turnBudgetMs). */
  readonly turnBudgetMs?: number;
  /** The delay limit (load.pressure.maxEventLoopDelayMs): a bounded population that fits in it is not shed. */
  readonly maxEventLoopDelayMs?: number;
}

export interface RouteSnapshot {
  route: string;
  concurrency: number;
  maxQueue: number;
  inFlight: number;
  queued: number;
  shed: number;
  penalizedForMs: number;
}

export interface AdmissionSnapshot {
  inFlight: number;
  queued: number;
  maxInFlight: number;
  maxQueue: number;
  closing: boolean;
  overloaded: boolean;
  shed: Record<ShedReason, number>;
  abandoned: number;
  routes: RouteSnapshot[];
}

export interface Admission {
  route(routeKey: string, options?: RouteGateOptions): RouteGate;
  tryEnter(gate: RouteGate, signal?: AbortSignal): Entry;
  /** Takes a queued request out of the queue (its client left); its promise resolves 'aborted'. */
  withdraw(pending: Promise<Admitted | Refusal>): void;
  leave(gate: RouteGate): void;
  /** Limits a route caught blocking the loop: one at a time, no queue, runs at least `spacingMs` apart. */
  penalize(routeKey: string, forMs: number, spacingMs?: number): void;
  close(): void;
  drained(): Promise<void>;
  snapshot(): AdmissionSnapshot;
  readonly inFlight: number;
  readonly queued: number;
}

export interface AdmissionDeps {
  /** Event-loop pressure (see pressure.ts); read as a plain property on every admission. */
  pressure?: PressureSignal;
  /** Injectable clock for tests; defaults to performance.now(). */
  now?: () => number;
  /** Calls `fn` once the current loop turn's I/O is done; defaults to setImmediate. Injectable for tests. */
  afterTurn?: (fn: () => void) => void;
  /**
   * The most requests that can be outstanding at once (open connections, read per decision under
   * pressure; see pressure-allowance.ts). Without it every overload is treated as unbounded.
   */
  population?: () => number;
}

