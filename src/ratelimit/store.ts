/**
 * What a rate-limit store does: one atomic GCRA step per call, on its own clock. Both stores keep
 * one number per key (gcra.ts). Pure types.
 */
import type { GcraPolicy, RateDecision } from './gcra.ts';

export interface RateLimitStore {
  /** 'memory', 'redis': the label in logs. */
  readonly kind: string;
  /**
   * Applies `cost` units (1 for a request, -1 for a refund, 0 to read) to `key` atomically and
   * returns the decision. May answer synchronously (the memory store does, so a limited route
   * pays no promise for it); rejects or throws when the store cannot answer.
   */
  hit(key: string, policy: GcraPolicy, cost: number): RateDecision | Promise<RateDecision>;
  /** Forgets `key` (a successful login resets its account's count). */
  reset(key: string): void | Promise<void>;
  /** Releases what the store owns (a Redis connection it opened). */
  close?(): Promise<void>;
}

/** A store that could not answer: the limit's `onStoreError` decides what the request gets. */
export class RateLimitStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RateLimitStoreError';
  }
}
