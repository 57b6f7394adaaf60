/**
 * CPU offload on a bounded piscina pool. The bound is ours, counted in this module (tasks
 * submitted and not yet settled <= maxThreads + maxQueue), so refusal is synchronous and does
 * not depend on how fast piscina's workers start. Worker modules may be .ts files: Node strips
 * types in worker threads as in the main thread (unflagged since 22.18 and in 24).
 *
 * piscina itself is imported with the first task (~8 MiB of RSS on Node 24, issue 16): an app that
 * never offloads neither starts a thread nor loads the pool's code.
 */
import type { Piscina } from 'piscina';
import { outsideRequestContext } from '../context.ts';
import { VialError } from '../errors.ts';
import { resolveOffloadOptions } from './options.ts';
import type { OffloadOptions } from './options.ts';

export interface OffloadTask {
  /** The worker module (path or file URL); its default export, or `name`, is called. */
  filename: string | URL;
  name?: string;
}

export interface OffloadRunOptions {
  /** Aborting removes a queued task; a running one has its worker terminated (piscina). */
  signal?: AbortSignal;
}

export interface OffloadStats {
  maxThreads: number;
  maxQueue: number;
  threads: number;
  active: number;
  queued: number;
  completed: number;
  refused: number;
}

export interface OffloadPool {
  run<T>(task: OffloadTask, payload: unknown, options?: OffloadRunOptions): Promise<T>;
  stats(): OffloadStats;
  close(): Promise<void>;
}

export class OffloadQueueFullError extends VialError {
  constructor(limit: number, retryAfterSec = 1) {
    super(
      'VIAL_ERR_OFFLOAD_QUEUE_FULL',
      `The CPU offload pool is busy (${limit} tasks running or waiting); the request was refused. ` +
        'Retry later, or raise load.offload.maxThreads / maxQueue if the machine has spare cores.',
      { status: 503, expose: true, headers: { 'Retry-After': String(retryAfterSec) } },
    );
  }
}

function closedError(): VialError {
  return new VialError('VIAL_ERR_OFFLOAD_CLOSED', 'The offload pool is closed (the app is shutting down). ' +
    'Retry the request on another instance.', { status: 503, expose: true, headers: { 'Retry-After': '1' } });
}

export function createOffloadPool(options: Partial<OffloadOptions> = {}): OffloadPool {
  return new PiscinaOffloadPool(resolveOffloadOptions(options));
}

class PiscinaOffloadPool implements OffloadPool {
  readonly #opts: Readonly<OffloadOptions>;
  readonly #limit: number;
  #pool: Promise<Piscina> | undefined;
  /** The pool once created, for stats() and close(), which must not wait for an import. */
  #created: Piscina | undefined;
  #active = 0;
  #refused = 0;
  #closed = false;

  constructor(opts: Readonly<OffloadOptions>) {
    this.#opts = opts;
    this.#limit = opts.maxThreads + opts.maxQueue;
  }

  // Created on first use: an app that never offloads never starts a thread.
  #piscina(): Promise<Piscina> {
    // Imported and created outside the request that first offloads: the pool outlives it.
    this.#pool ??= outsideRequestContext(async () => {
      const { Piscina } = await import('piscina');
      const pool = new Piscina({
        minThreads: 0,
        maxThreads: this.#opts.maxThreads,
        idleTimeout: this.#opts.idleTimeoutMs,
        // Intentionally unbounded inside piscina: our own count above is the bound.
        maxQueue: Infinity,
      });
      if (this.#closed) await pool.destroy();
      else this.#created = pool;
      return pool;
    });
    return this.#pool;
  }

  async run<T>(task: OffloadTask, payload: unknown, options: OffloadRunOptions = {}): Promise<T> {
    if (this.#closed) throw closedError();
    if (this.#active >= this.#limit) {
      this.#refused++;
      throw new OffloadQueueFullError(this.#limit);
    }
    options.signal?.throwIfAborted();
    const filename = task.filename instanceof URL ? task.filename.href : task.filename;
    this.#active++;
    try {
      const pool = await this.#piscina();
      if (this.#closed) throw closedError();
      return (await pool.run(payload, {
        filename,
        name: task.name ?? 'default',
        signal: options.signal ?? null,
      })) as T;
    } finally {
      this.#active--;
    }
  }

  stats(): OffloadStats {
    const pool = this.#created;
    return {
      maxThreads: this.#opts.maxThreads,
      maxQueue: this.#opts.maxQueue,
      threads: pool?.threads.length ?? 0,
      active: this.#active,
      queued: pool?.queueSize ?? 0,
      completed: pool?.completed ?? 0,
      refused: this.#refused,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#created;
    this.#created = undefined;
    if (pool !== undefined) await pool.destroy();
  }
}
