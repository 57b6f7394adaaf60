// Public surface of metrics and request logs; the package index re-exports from here.
export { createMetrics, UNMATCHED_ROUTE } from './metrics.ts';
export type { Metrics, MetricsOptions, RequestEvent } from './metrics.ts';
export { installRequestLog } from './request-log.ts';
export type { RequestLog, RequestLogOptions } from './request-log.ts';
export { prettyDestination } from './pretty.ts';
export type { PrettyOptions } from './pretty.ts';
export type { LiveSample, RouteLive } from './live-stats.ts';
