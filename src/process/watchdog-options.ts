/** The watchdog's options: defaults and bounds, resolved once (config.ts). Pure. */
import { ConfigError } from '../errors.ts';
import { inBounds } from '../internal/bounds.ts';

export interface WatchdogOptions {
  /** Start the watchdog at all. Default true. */
  enabled: boolean;
  /** A stalled heartbeat longer than this is a block. Default 200; at least 2 × checkIntervalMs. */
  thresholdMs: number;
  /** Heartbeat period on the main thread, and how often the watchdog thread looks. Default 50. */
  checkIntervalMs: number;
  /** How long the watchdog thread waits for the main thread's stack before giving up. Default 2000. */
  captureTimeoutMs: number;
  /** Frames kept per report, innermost first. Default 32. */
  maxFrames: number;
}

const DEFAULTS: WatchdogOptions = {
  enabled: true,
  thresholdMs: 200,
  checkIntervalMs: 50,
  captureTimeoutMs: 2000,
  maxFrames: 32,
};

const BOUNDS: Record<Exclude<keyof WatchdogOptions, 'enabled'>, readonly [number, number]> = {
  thresholdMs: [20, 600_000],
  checkIntervalMs: [5, 10_000],
  captureTimeoutMs: [100, 60_000],
  maxFrames: [1, 200],
};

function optionError(message: string): ConfigError {
  return new ConfigError('VIAL_ERR_WATCHDOG_OPTION', message);
}

/** Fills defaults and checks bounds; pure. Throws ConfigError (VIAL_ERR_WATCHDOG_OPTION). */
export function resolveWatchdogOptions(partial: Partial<WatchdogOptions> = {}): Readonly<WatchdogOptions> {
  const resolved: WatchdogOptions = { ...DEFAULTS };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (key === 'enabled') {
      if (typeof value !== 'boolean') throw optionError(`watchdog.enabled must be true or false, got ${String(value)}.`);
      resolved.enabled = value;
      continue;
    }
    const bounds = BOUNDS[key as keyof typeof BOUNDS] as readonly [number, number] | undefined;
    if (bounds === undefined) {
      throw optionError(`Unknown watchdog option "${key}". Known options: enabled, ${Object.keys(BOUNDS).join(', ')}.`);
    }
    const [min, max] = bounds;
    resolved[key as keyof typeof BOUNDS] = inBounds(value, { name: `watchdog.${key}`, min, max }, optionError);
  }
  if (resolved.thresholdMs < 2 * resolved.checkIntervalMs) {
    throw optionError(
      `watchdog.thresholdMs (${resolved.thresholdMs}) must be at least twice checkIntervalMs ` +
        `(${resolved.checkIntervalMs}), or an on-time heartbeat could look like a block. ` +
        'Raise thresholdMs or lower checkIntervalMs.',
    );
  }
  return Object.freeze(resolved);
}
