/**
 * What the watchdog reports when the event loop was blocked, how a frame is shown, and the
 * `vial:block` channel that carries reports to the logs, metrics and the admin surface. Pure.
 */
import { fileURLToPath } from 'node:url';
import { typedChannel } from '../internal/channels.ts';

export interface BlockFrame {
  readonly functionName: string;
  /** Script URL as V8 knows it: `file:///...` for user code, `node:...` for Node internals. */
  readonly url: string;
  /** 1-based. For type-stripped .ts files this is the line in the .ts source. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export interface BlockReport {
  /** Route key of the request that was running while the loop was blocked, or null. */
  readonly route: string | null;
  /** How long the heartbeat stalled; accurate to about `checkIntervalMs`. */
  readonly durationMs: number;
  /** Innermost frame first; empty when the stack could not be captured (see `stackError`). */
  readonly stack: readonly BlockFrame[];
  /** The first frame outside Node internals and node_modules, or null. */
  readonly userFrame: BlockFrame | null;
  /** Epoch milliseconds of the last heartbeat before the block. */
  readonly at: number;
  /** Why `stack` is empty, or null when it was captured. */
  readonly stackError: string | null;
  /**
   * True when a second look, a moment after the first, found the same request still running:
   * that request's code held the loop. False for a turn that was long because it ran many short
   * requests (a burst of connections, a flood of refusals) or when the block ended in between:
   * `route` then names only the request that happened to run at the first look.
   */
  readonly confirmed: boolean;
}

/** The part of a pino logger the watchdog uses. */
/** The innermost frame that is the application's own code: not node:, not node_modules, not native. */
export function findUserFrame(stack: readonly BlockFrame[]): BlockFrame | null {
  return (
    stack.find(
      (frame) =>
        frame.url !== '' &&
        !frame.url.startsWith('node:') &&
        !frame.url.includes('/node_modules/') &&
        !frame.url.includes('\\node_modules\\'),
    ) ?? null
  );
}

/** `path:line` for logs: file URLs become paths, so editors and terminals can open them. */
export function formatFrame(frame: BlockFrame): string {
  let where = frame.url;
  if (where.startsWith('file:')) {
    try {
      where = fileURLToPath(where);
    } catch {
      // Intentionally keep the URL: a malformed file URL is still better than nothing in a log.
    }
  }
  return `${where}:${frame.line}`;
}

/** `vial:block`: one report per blocked-loop episode the watchdog caught. */
/**
 * What a report is, for the dashboard, the admin JSON and /metrics alike (issue 14, class 10):
 * - `block`: confirmed, the same request still ran at the watchdog's second look: that route's;
 * - `long-turn`: not confirmed, sampled in a route: many requests' time, never that route's block;
 * - `outside`: no request was running (timers, GC, a burst of connections accepted and parsed
 *   before any handler). The watchdog cannot confirm it (there is no request to see twice), so it
 *   is not a block either: a long turn, with the frame it sampled.
 */
export function blockKind(report: BlockReport): 'block' | 'long-turn' | 'outside' {
  if (report.confirmed) return 'block';
  return report.route === null ? 'outside' : 'long-turn';
}

export const blockChannel = typedChannel<BlockReport>('vial:block');
