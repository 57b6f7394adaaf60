// Public surface of the process model. src/process/watchdog.ts is exported separately by its owner.
export type { ProcessOptions, ResolvedProcessOptions, RecycleOptions, HeartbeatOptions, RestartOptions, ProcessLogger } from './options.ts';
export { resolveProcessOptions } from './options.ts';
export type { SupervisorOptions, Supervisor, SupervisorStats, WorkerStats, RestartCause } from './supervisor.ts';
export { runSupervisor } from './supervisor.ts';
export type { WorkerOptions, WorkerRuntime, WorkerStatus } from './worker.ts';
export { runWorker } from './worker.ts';
export type { GracefulShutdownOptions, GracefulShutdown } from './shutdown.ts';
export { installGracefulShutdown } from './shutdown.ts';
