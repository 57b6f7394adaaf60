/**
 * `startAdmin(app, { host, port, token })`: the admin listener, a separate node:http server on its
 * own port (so admission shedding on the app's port never refuses an operator), bound to loopback by
 * default and refusing to start on any other address without a bearer token. Endpoints are listed
 * in docs/admin.md; the same signals go out on diagnostics_channel.
 */
import { createMetrics } from '../observe/metrics.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { ObservedApp } from '../observe/types.ts';
import { dashboardAssets } from './assets.ts';
import { appEndpoints } from './endpoints.ts';
import { resolveAdminOptions, startListener } from './http.ts';
import type { AdminOptions, RunningAdmin } from './http.ts';

export interface StartAdminOptions extends AdminOptions {
  /** Reuse the app's metrics (createMetrics); default: created here and closed with the listener. */
  metrics?: Metrics;
  /** Serve the dashboard page at `/`. Default true. */
  dashboard?: boolean;
}

export async function startAdmin(app: ObservedApp, options: StartAdminOptions = {}): Promise<RunningAdmin> {
  const resolved = resolveAdminOptions(options);
  const own = options.metrics === undefined;
  const metrics = options.metrics ?? createMetrics(app);
  const endpoints = appEndpoints(app, metrics, Date.now());
  if (options.dashboard ?? true) for (const [path, endpoint] of dashboardAssets()) endpoints.set(path, endpoint);
  let running: RunningAdmin;
  try {
    running = await startListener(endpoints, resolved, (error) => app.log.error({ err: error }, 'vial: admin endpoint failed'));
  } catch (error) {
    if (own) metrics.close();
    throw error;
  }
  app.log.info({ url: running.url, token: resolved.token !== undefined }, 'vial: admin listening');
  return {
    ...running,
    async close() {
      await running.close();
      if (own) metrics.close();
    },
  };
}
