// Public surface of the admin listener; the package index re-exports from here.
export { startAdmin } from './server.ts';
export type { StartAdminOptions } from './server.ts';
export { startPrimaryAdmin, serveWorkerMetrics } from './cluster.ts';
export type { PrimaryAdminOptions } from './cluster.ts';
export type { AdminOptions, RunningAdmin } from './http.ts';
