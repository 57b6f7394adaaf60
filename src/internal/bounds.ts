/**
 * The one bounds check behind every numeric option: an integer (or, with `integer: false`, any
 * number) from `min` to `max`, or an error naming the option, the range and the value. Each
 * options module keeps its own error code and wording of the next step. A leaf module.
 */

export interface BoundsCheck {
  /** The option as the user wrote it: `load.admission.maxQueue`, `watchdog.thresholdMs`. */
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Default true. `Infinity` passes an integer check when `max` allows it (e.g. "no limit"). */
  readonly integer?: boolean;
  /** Appended to the message: what to do about it. */
  readonly advice?: string;
}

/** Returns `value` when it is within bounds; otherwise calls `fail` with the message to throw. */
export function inBounds(value: unknown, check: BoundsCheck, fail: (message: string) => Error): number {
  const { name, min, max, integer = true, advice } = check;
  const ok = typeof value === 'number' && !Number.isNaN(value) && value >= min && value <= max && (!integer || Number.isSafeInteger(value) || value === Infinity);
  if (ok) return value;
  const kind = integer ? 'an integer' : 'a number';
  throw fail(`${name} must be ${kind} from ${min} to ${max}, got ${String(value)}.${advice === undefined ? '' : ` ${advice}`}`);
}
