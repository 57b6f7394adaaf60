/**
 * Per-route request counters, so an allocation diff can say which routes ran while memory grew.
 * The dispatcher calls `recordRoute` once per request: one Map increment, nothing else.
 *
 * Pure module: no I/O, no timers. Counters are cumulative and never reset, so several readers
 * (the leak alarm, the admin listener) can each diff their own snapshots without stealing counts
 * from one another.
 */

/** Route keys past this many are counted under `(other routes)`: keys are meant to be route patterns, not URLs. */
export const MAX_TRACKED_ROUTES = 1000;
export const OTHER_ROUTES = '(other routes)';

const counts = new Map<string, number>();

export interface RouteCount {
  readonly route: string;
  readonly requests: number;
}

export function recordRoute(routeKey: string): void {
  const n = counts.get(routeKey);
  if (n !== undefined) counts.set(routeKey, n + 1);
  // Guards against a caller passing raw paths: the counter map must not become the leak.
  else if (counts.size < MAX_TRACKED_ROUTES) counts.set(routeKey, 1);
  else counts.set(OTHER_ROUTES, (counts.get(OTHER_ROUTES) ?? 0) + 1);
}

/** A copy of the cumulative counters. */
function totals(): Record<string, number> {
  return Object.fromEntries(counts);
}

/** Routes whose count rose between two `totals()` copies, busiest first. */
export function routeDelta(older: Readonly<Record<string, number>>, newer: Readonly<Record<string, number>>): RouteCount[] {
  const out: RouteCount[] = [];
  for (const [route, n] of Object.entries(newer)) {
    const requests = n - (older[route] ?? 0);
    if (requests > 0) out.push({ route, requests });
  }
  return out.sort((a, b) => b.requests - a.requests || (a.route < b.route ? -1 : 1));
}

/** For tests only: forget every count. */
function reset(): void {
  counts.clear();
}

export const routeActivity = { recordRoute, totals, reset } as const;
