/** Load protection: admission, bulkheads, deadlines, event-loop pressure, CPU offload, server limits. */
export { acceptorCount, acceptorsSupported, closeAcceptors, listenWithAcceptors } from './acceptors.ts';
export type { AcceptorListenOptions, AcceptorsResult } from './acceptors.ts';
export { acceptQueueIn, readAcceptQueue } from './accept-queue.ts';
export { ADMITTED, createAdmission } from './admission.ts';
export type {
  Admission, AdmissionDeps, AdmissionSnapshot, Admitted, Entry, PressureSignal, Refusal, RefusalReason,
  RouteGate, RouteGateOptions, RouteSnapshot, ShedReason,
} from './admission.ts';
export { Bulkhead, BulkheadFullError } from './bulkhead.ts';
export type { BulkheadOptions, BulkheadStats } from './bulkhead.ts';
export { DeadlineTracker } from './deadline.ts';
export type { DeadlineHandle, DeadlineStats, OnExpire } from './deadline.ts';
export { createOffloadPool, OffloadQueueFullError } from './offload.ts';
export type { OffloadPool, OffloadRunOptions, OffloadStats, OffloadTask } from './offload.ts';
export { runOffloadedHandler } from './offload-handler.ts';
export type { OffloadRequest, OffloadResponse } from './offload-handler.ts';
export {
  resolveAdmissionOptions, resolveDeadlineOptions, resolveLoadOptions, resolveOffloadOptions,
  resolvePressureOptions, resolveServerLimitOptions,
} from './options.ts';
export type {
  AdmissionOptions, DeadlineOptions, LoadOptions, LoadOptionsInput, OffloadOptions, PressureOptions,
  ServerLimitOptions,
} from './options.ts';
export { eventLoopSource, PressureMonitor } from './pressure.ts';
export type { PressureSample, PressureSource, PressureTransition } from './pressure.ts';
export { createLoadProtection } from './protection.ts';
export type { LoadProtection } from './protection.ts';
export { applyServerLimits, hasTooManyHeaders, serverOptions } from './server-limits.ts';
