/**
 * The part of the app the observe and admin modules read: a narrow structural interface (not the
 * Vial class), so tests can pass a small fake and these modules never import app.ts.
 */
import type { Logger } from 'pino';
import type { VialConfig } from '../config.ts';
import type { LoadProtection } from '../load/protection.ts';
import type { AllocationSampler } from '../memory/allocation.ts';
import type { LeakAlarm } from '../memory/leak-alarm.ts';
import type { Watchdog } from '../process/watchdog.ts';
import type { RouteRecord } from '../route-table.ts';
import type { SecurityLayer } from '../security/layer.ts';

/** The process-wide monitors, each undefined until started (or when switched off). */
export interface MonitorsView {
  readonly watchdog: Watchdog | undefined;
  readonly sampler: AllocationSampler | undefined;
  readonly leakAlarm: LeakAlarm | undefined;
}

export interface ObservedApp {
  readonly config: VialConfig;
  readonly log: Logger;
  readonly load: LoadProtection;
  readonly security: SecurityLayer;
  readonly monitors: MonitorsView;
  readonly routeList: readonly RouteRecord[];
}
