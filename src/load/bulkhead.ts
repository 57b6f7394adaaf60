/**
 * A bulkhead users put around their own downstream pools (a database, an HTTP client), so one
 * slow dependency holds at most `concurrency` callers and a bounded queue, and the rest fail
 * fast. It is an admission controller with a single gate: the same queue, the same FIFO,
 * the same wait limit and abort handling as the request path.
 */
import { VialError } from '../errors.ts';
import { ADMITTED, createAdmission } from './admission.ts';
import type { Admission, Refusal, RouteGate } from './admission.ts';

export interface BulkheadOptions {
  name: string;
  concurrency: number;
  /** Callers that may wait for a slot. Default 0: refuse at once when all slots are taken. */
  maxQueue?: number;
  maxQueueWaitMs?: number;
  retryAfterSec?: number;
}

export interface BulkheadStats {
  name: string;
  concurrency: number;
  inFlight: number;
  queued: number;
  refused: number;
}

export class BulkheadFullError extends VialError {
  readonly bulkhead: string;
  constructor(name: string, refusal: Refusal) {
    const why = refusal.reason === 'queue-timeout' ? 'waited too long for a slot' : 'has no free slot or queue room';
    super(
      'VIAL_ERR_BULKHEAD_FULL',
      `Bulkhead "${name}" ${why}; the call was refused so that callers fail fast instead of piling up. ` +
        'Retry later, or raise its concurrency/maxQueue if the dependency can take more.',
      { status: 503, expose: true, headers: { 'Retry-After': String(refusal.retryAfterSec) } },
    );
    this.bulkhead = name;
  }
}

export class Bulkhead {
  readonly name: string;
  readonly #admission: Admission;
  readonly #gate: RouteGate;

  constructor(options: BulkheadOptions) {
    this.name = options.name;
    const maxQueue = options.maxQueue ?? 0;
    this.#admission = createAdmission({
      maxInFlight: options.concurrency,
      maxQueue,
      ...(options.maxQueueWaitMs === undefined ? {} : { maxQueueWaitMs: options.maxQueueWaitMs }),
      ...(options.retryAfterSec === undefined ? {} : { retryAfterSec: options.retryAfterSec }),
    });
    this.#gate = this.#admission.route(options.name, { concurrency: options.concurrency, maxQueue });
  }

  /** Runs `fn` once a slot is free; rejects with BulkheadFullError (503) or the signal's reason. */
  async run<T>(fn: () => T | Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    const { signal } = options;
    signal?.throwIfAborted();
    let entry = this.#admission.tryEnter(this.#gate, signal);
    if (entry !== ADMITTED && 'then' in entry) entry = await entry;
    if (entry !== ADMITTED) {
      if (entry.reason === 'aborted') signal?.throwIfAborted();
      throw new BulkheadFullError(this.name, entry);
    }
    try {
      return await fn();
    } finally {
      this.#admission.leave(this.#gate);
    }
  }

  stats(): BulkheadStats {
    const s = this.#admission.snapshot();
    let refused = 0;
    for (const n of Object.values(s.shed)) refused += n;
    return { name: this.name, concurrency: this.#gate.concurrency, inFlight: s.inFlight, queued: s.queued, refused };
  }
}
