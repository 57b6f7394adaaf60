/**
 * Child spans for the work a request hands elsewhere: session-store calls and offloaded tasks.
 * Each is a span only inside a recording span (a traced request): background work (a store's
 * sweep) starts no trace of its own. Without an SDK the store is returned as it is (it is created
 * on first use, inside a request, so after the SDK registered) and the pool's run adds one lookup
 * of the active context, which is the API's no-op.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import type { OffloadPool } from '../load/offload.ts';
import type { SessionStore } from '../security/stores/contract.ts';
import { registeredTracer } from './tracer.ts';

/** Runs `work` in a child span of the active recording span, or as it is when there is none. */
function inChildSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  const parent = trace.getSpan(context.active());
  const tracer = parent?.isRecording() === true ? registeredTracer() : undefined;
  if (tracer === undefined) return work();
  return tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The store with a span per call (`session.get`, ...), or the store itself when no SDK is registered. */
export function traceSessionStore(store: SessionStore): SessionStore {
  if (registeredTracer() === undefined) return store;
  // The class names the backend (SqliteSessionStore, RedisSessionStore, a team's own); keys are never recorded.
  const attributes: Attributes = { 'vial.session.store': store.constructor.name };
  const traced: SessionStore = {
    get: (key) => inChildSpan('session.get', attributes, () => store.get(key)),
    set: (key, record, ttlMs) => inChildSpan('session.set', attributes, () => store.set(key, record, ttlMs)),
    update: (key, record, ttlMs) => inChildSpan('session.update', attributes, () => store.update(key, record, ttlMs)),
    destroy: (key) => inChildSpan('session.destroy', attributes, () => store.destroy(key)),
    close: () => store.close(),
  };
  if (store.destroyAllForUser !== undefined) {
    traced.destroyAllForUser = (userId) => inChildSpan('session.destroyAllForUser', attributes, () => (store as Required<SessionStore>).destroyAllForUser(userId));
  }
  return traced;
}

/** The pool with an `offload` span per task run inside a traced request. */
export function traceOffloadPool(pool: OffloadPool): OffloadPool {
  return {
    run(task, payload, options) {
      const module = typeof payload === 'object' && payload !== null && typeof (payload as { moduleUrl?: unknown }).moduleUrl === 'string'
        ? (payload as { moduleUrl: string }).moduleUrl // a `worker:` route: the route's module, not the shared runner
        : String(task.filename);
      return inChildSpan('offload', { 'vial.offload.module': module, 'vial.offload.function': task.name ?? 'default' }, () => pool.run(task, payload, options));
    },
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
}
