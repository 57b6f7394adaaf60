/**
 * Admission control: a per-process in-flight limit, a bounded FIFO queue (in length and in
 * wait), per-route bulkheads, refusal under event-loop pressure, penalties for routes that
 * block the loop, and graceful close.
 *
 * Hot path: when there is room, `tryEnter` bumps two counters and returns the constant
 * ADMITTED: no Promise, no closure, no object. Refusals are preallocated per reason. Only a
 * request that has to wait allocates (its waiter and its promise). The only timer is one
 * sweep that runs while someone is queued, so waits end on time even when no slot frees up.
 */
import { outsideRequestContext } from '../context.ts';
import { ConfigError } from '../errors.ts';
import { DEFAULT_TURN_BUDGET_MS, resolveAdmissionOptions } from './options.ts';
import type { AdmissionOptions } from './options.ts';
import { PressureAllowance } from './pressure-allowance.ts';
import { ADMITTED, Gate, Waiter } from './queue.ts';
import type { Admitted, Refusal, RefusalReason, ShedReason } from './queue.ts';
import { typedChannel } from '../internal/channels.ts';
import type { Admission, AdmissionDeps, AdmissionSnapshot, Entry, PressureSignal, RouteGate, RouteGateOptions, RouteSnapshot } from './admission-api.ts';

// The outcomes live with the waiting line (queue.ts), which resolves waiters with them.
export { ADMITTED } from './queue.ts';
export type { Admitted, Refusal, RefusalReason, ShedReason } from './queue.ts';

// The admission's interfaces and options live in admission-api.ts.
export type { Admission, AdmissionDeps, AdmissionSnapshot, Entry, PressureSignal, RouteGate, RouteGateOptions, RouteSnapshot } from './admission-api.ts';

/** What `vial:shed` carries: one refused request, by route key and reason. */
export interface ShedEvent {
  readonly route: string;
  readonly reason: ShedReason;
}

export const shedChannel = typedChannel<ShedEvent>('vial:shed');
const REASONS: readonly ShedReason[] = ['queue-full', 'queue-timeout', 'route-full', 'route-blocking', 'pressure', 'closing'];

const unbounded = (): number => Number.POSITIVE_INFINITY;

export function createAdmission(options: Partial<AdmissionOptions> = {}, deps: AdmissionDeps = {}): Admission {
  return new AdmissionController(resolveAdmissionOptions(options), deps);
}

class AdmissionController implements Admission {
  readonly #opts: Readonly<AdmissionOptions>;
  readonly #pressure: PressureSignal | undefined;
  readonly #now: () => number;
  readonly #gates = new Map<string, Gate>();
  readonly #waiting = new Set<Gate>();
  readonly #pending = new WeakMap<Promise<Admitted | Refusal>, Waiter>();
  readonly #refusals: Record<RefusalReason, Refusal>;
  readonly #shed: Record<ShedReason, number>;
  #inFlight = 0;
  #queued = 0;
  #abandoned = 0;
  #seq = 0;
  #closing = false;
  /** What gets in while the loop is overloaded (pressure-allowance.ts). */
  readonly #underPressure: PressureAllowance;
  readonly #afterTurn: (fn: () => void) => void;
  readonly #population: () => number;
  #turnOpen = false;
  readonly #closeTurn = (): void => { this.#turnOpen = false; };
  #pumpDeferred = false;
  readonly #deferredPump = (): void => {
    this.#pumpDeferred = false;
    if (this.#queued !== 0) this.#pump();
  };
  #sweep: NodeJS.Timeout | undefined;
  #drainWaiters: (() => void)[] = [];

  constructor(opts: Readonly<AdmissionOptions>, deps: AdmissionDeps) {
    this.#opts = opts;
    this.#pressure = deps.pressure;
    this.#now = deps.now ?? performance.now.bind(performance);
    this.#underPressure = new PressureAllowance(deps.pressure?.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS, deps.pressure?.maxEventLoopDelayMs);
    this.#population = deps.population ?? unbounded;
    this.#afterTurn = deps.afterTurn ?? ((fn) => { setImmediate(fn); });
    const refusals = {} as Record<RefusalReason, Refusal>;
    const shed = {} as Record<ShedReason, number>;
    for (const reason of [...REASONS, 'aborted'] as const) {
      refusals[reason] = Object.freeze({ reason, retryAfterSec: opts.retryAfterSec });
    }
    for (const reason of REASONS) shed[reason] = 0;
    this.#refusals = refusals;
    this.#shed = shed;
  }

  get inFlight(): number { return this.#inFlight; }
  get queued(): number { return this.#queued; }

  route(routeKey: string, options: RouteGateOptions = {}): RouteGate {
    const existing = this.#gates.get(routeKey);
    if (existing !== undefined) return existing;
    const o = this.#opts;
    const concurrency = options.concurrency ?? Math.max(1, Math.floor(o.maxInFlight * o.routeConcurrencyShare));
    const maxQueue = options.maxQueue ?? Math.floor(o.maxQueue * o.routeQueueShare);
    if (!Number.isInteger(concurrency) || concurrency < 1 || !Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new ConfigError(
        'VIAL_ERR_LOAD_OPTION',
        `Route ${routeKey}: concurrency must be an integer >= 1 and maxQueue an integer >= 0 ` +
          `(got ${String(concurrency)} and ${String(maxQueue)}). Fix the route's options.`,
      );
    }
    const gate = new Gate(routeKey, concurrency, maxQueue);
    this.#gates.set(routeKey, gate);
    return gate;
  }

  tryEnter(routeGate: RouteGate, signal?: AbortSignal): Entry {
    const gate = routeGate as Gate;
    if (this.#closing) return this.#refuse(gate, 'closing');
    if (gate.penalizedUntil !== 0) {
      const now = this.#now();
      if (now < gate.penalizedUntil) {
        // A route caught blocking the loop runs one request at a time, queues none, and runs at
        // most once per spacing interval (see Gate.penaltySpacingMs).
        if (gate.inFlight >= 1 || now - gate.lastAdmittedAt < gate.penaltySpacingMs) return this.#refuse(gate, 'route-blocking');
        gate.lastAdmittedAt = now;
      } else {
        gate.penalizedUntil = 0;
      }
    }
    if (this.#pressure !== undefined && this.#pressure.overloaded) {
      const now = this.#openTurn();
      if (!this.#underPressure.admit(this.#inFlight, now, this.#pressure.delayRatio ?? 1, this.#population())) return this.#refuse(gate, 'pressure');
    } else {
      this.#underPressure.end();
    }
    if (gate.inFlight < gate.concurrency && this.#inFlight < this.#opts.maxInFlight) {
      gate.inFlight++;
      this.#inFlight++;
      return ADMITTED;
    }
    if (gate.penalizedUntil !== 0) return this.#refuse(gate, 'route-blocking');
    if (this.#queued >= this.#opts.maxQueue) return this.#refuse(gate, 'queue-full');
    if (gate.queued >= gate.maxQueue) {
      return this.#refuse(gate, gate.inFlight >= gate.concurrency ? 'route-full' : 'queue-full');
    }
    if (signal?.aborted === true) return this.#refusals.aborted;
    return this.#enqueue(gate, signal);
  }

  /** Starts this loop turn's budget on its first decision under pressure; returns the clock. */
  #openTurn(): number {
    const now = this.#now();
    if (!this.#turnOpen) {
      this.#turnOpen = true;
      this.#underPressure.startTurn(now);
      this.#afterTurn(this.#closeTurn);
    }
    return now;
  }

  #enqueue(gate: Gate, signal: AbortSignal | undefined): Promise<Admitted | Refusal> {
    let resolve!: (outcome: Admitted | Refusal) => void;
    const promise = new Promise<Admitted | Refusal>((r) => { resolve = r; });
    const waiter = new Waiter(gate, resolve, this.#now() + this.#opts.maxQueueWaitMs, ++this.#seq);
    gate.push(waiter);
    this.#queued++;
    this.#waiting.add(gate);
    this.#pending.set(promise, waiter);
    if (signal !== undefined) {
      waiter.signal = signal;
      waiter.onAbort = () => { this.#settle(waiter, this.#refusals.aborted); };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    if (this.#sweep === undefined) {
      // One timer for the whole queue, a quarter of the wait limit: waits end within ~125%.
      const every = Math.max(5, Math.min(250, Math.floor(this.#opts.maxQueueWaitMs / 4)));
      // Created outside the queued request's context, which it would otherwise keep alive.
      this.#sweep = outsideRequestContext(() => setInterval(() => { this.#expire(); }, every));
    }
    return promise;
  }

  withdraw(pending: Promise<Admitted | Refusal>): void {
    const waiter = this.#pending.get(pending);
    if (waiter !== undefined && !waiter.done) this.#settle(waiter, this.#refusals.aborted);
  }

  leave(routeGate: RouteGate): void {
    const gate = routeGate as Gate;
    gate.inFlight--;
    this.#inFlight--;
    if (this.#pressure !== undefined) this.#underPressure.completed(this.#now);
    if (this.#queued !== 0) this.#pump();
    if (this.#inFlight === 0 && this.#drainWaiters.length !== 0) this.#notifyDrained();
  }

  /**
   * Hands free slots to the oldest waiter whose route has room (FIFO across routes). Under pressure
   * a waiter is admitted by the same allowance as a new request: a slot freed late in a turn whose
   * budget is spent waits for the next turn (one deferred pump), instead of running the waiters
   * past the budget; one the rate or hold refuses stays queued for the next completion or its
   * timeout.
   */
  #pump(): void {
    const now = this.#now();
    while (this.#inFlight < this.#opts.maxInFlight && this.#queued !== 0) {
      let best: Waiter | undefined;
      for (const gate of this.#waiting) {
        const head = this.#liveHead(gate, now);
        if (head !== undefined && gate.inFlight < gate.concurrency && (best === undefined || head.seq < best.seq)) {
          best = head;
        }
      }
      if (best === undefined) return;
      if (this.#pressure !== undefined && this.#pressure.overloaded && !this.#pressureAdmitsWaiter()) return;
      best.gate.inFlight++;
      this.#inFlight++;
      this.#settle(best, ADMITTED);
    }
  }

  #pressureAdmitsWaiter(): boolean {
    const now = this.#openTurn();
    if (this.#underPressure.turnSpent(now)) {
      if (!this.#pumpDeferred) {
        this.#pumpDeferred = true;
        this.#afterTurn(this.#deferredPump);
      }
      return false;
    }
    return this.#underPressure.admit(this.#inFlight, now, (this.#pressure as PressureSignal).delayRatio ?? 1, this.#population());
  }

  /** Drops expired waiters from the head of a route's queue; returns the first live one. */
  #liveHead(gate: Gate, now: number): Waiter | undefined {
    let head = gate.head;
    while (head !== undefined && head.expiresAt <= now) {
      this.#settle(head, this.#refusals['queue-timeout']);
      head = gate.head;
    }
    return head;
  }

  #expire(): void {
    const now = this.#now();
    for (const gate of this.#waiting) this.#liveHead(gate, now);
    if (this.#queued === 0) this.#stopSweep();
  }

  #settle(waiter: Waiter, outcome: Admitted | Refusal): void {
    waiter.done = true;
    const gate = waiter.gate;
    gate.unlink(waiter);
    this.#queued--;
    if (gate.queued === 0) this.#waiting.delete(gate);
    if (waiter.signal !== undefined && waiter.onAbort !== undefined) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
    }
    if (outcome !== ADMITTED) {
      if (outcome.reason === 'aborted') this.#abandoned++;
      else this.#count(gate, outcome.reason);
    }
    if (this.#queued === 0) this.#stopSweep();
    waiter.resolve(outcome);
  }

  #refuse(gate: Gate, reason: ShedReason): Refusal {
    this.#count(gate, reason);
    if (reason === 'route-blocking') {
      const remainingMs = gate.penalizedUntil - this.#now();
      return Object.freeze({ reason, retryAfterSec: Math.max(this.#opts.retryAfterSec, Math.ceil(remainingMs / 1000)) });
    }
    return this.#refusals[reason];
  }

  #count(gate: Gate, reason: ShedReason): void {
    this.#shed[reason]++;
    gate.shed++;
    if (shedChannel.hasSubscribers) shedChannel.publish({ route: gate.key, reason });
  }

  #stopSweep(): void {
    if (this.#sweep !== undefined) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  penalize(routeKey: string, forMs: number, spacingMs = 0): void {
    const gate = this.#gates.get(routeKey);
    if (gate === undefined || !(forMs > 0)) return;
    const now = this.#now();
    gate.penalizedUntil = Math.max(gate.penalizedUntil, now + forMs);
    gate.penaltySpacingMs = Math.max(gate.penaltySpacingMs, spacingMs);
    // The block that got it penalized counts as its last run.
    gate.lastAdmittedAt = now;
    // Its waiters would only pile up behind the blocking request: refuse them now.
    while (gate.head !== undefined) this.#settle(gate.head, this.#refusals['route-blocking']);
  }

  close(): void {
    this.#closing = true;
    // Queued requests have not started: refuse them so a load balancer retries elsewhere.
    for (const gate of this.#waiting) {
      while (gate.head !== undefined) this.#settle(gate.head, this.#refusals.closing);
    }
    if (this.#inFlight === 0) this.#notifyDrained();
  }

  drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => { this.#drainWaiters.push(resolve); });
  }

  #notifyDrained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  snapshot(): AdmissionSnapshot {
    const now = this.#now();
    const routes: RouteSnapshot[] = [];
    for (const g of this.#gates.values()) {
      routes.push({
        route: g.key, concurrency: g.concurrency, maxQueue: g.maxQueue, inFlight: g.inFlight, queued: g.queued,
        shed: g.shed, penalizedForMs: g.penalizedUntil > now ? Math.ceil(g.penalizedUntil - now) : 0,
      });
    }
    return {
      inFlight: this.#inFlight, queued: this.#queued, maxInFlight: this.#opts.maxInFlight, maxQueue: this.#opts.maxQueue,
      closing: this.#closing, overloaded: this.#pressure?.overloaded ?? false, shed: { ...this.#shed },
      abandoned: this.#abandoned, routes,
    };
  }
}
