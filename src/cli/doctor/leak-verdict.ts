/**
 * The leak verdict, one rule for `vial doctor --leak` (probe-leak.ts) and for vial/testing's growth
 * check (testing/growth-check.ts). Pure: two fitted lines in, a verdict out.
 *
 * The judged line is memory over distinct keys after a warm-up past any likely cache bound; the
 * baseline is memory over repeated keys (what any request adds: allocator creep, logs). A leak is
 * growth per distinct key beyond the baseline's per request, clear of the noise of both fits, and
 * large enough in all that page-sized steps of RSS never decide.
 */
import { excessT } from './stats.ts';
import type { LineFit } from './stats.ts';

/**
 * Growth per distinct key beyond the baseline's per request, by how exact the source is. The heap
 * read right after a full GC holds only live objects, so a leak of a short string per key shows. RSS
 * (and a heap figure between GCs) also carries the allocator's creep: CPython's arenas under
 * gunicorn gthread workers were measured at 30-50 B per distinct key more than per repeated key with
 * a 128-entry LRU, so the floor there is twice that, and a value the size of a request line (the
 * doctor's --leak templates carry 1 kB) is far above it. A fresh-clone CI run later saw 88 B of
 * creep on the fixed Flask app (a false WARN), so on RSS WARN has the same floor as FAIL and only
 * the t value tells them apart.
 */
const FLOORS = {
  exact: { failBytes: 16, warnBytes: 8 },
  noisy: { failBytes: 128, warnBytes: 128 },
} as const;
/** ...and at least this much in all, so page-sized steps of RSS alone never make a verdict. */
export const FAIL_MIN_GROWTH = 256 * 1024;
const WARN_MIN_GROWTH = 64 * 1024;
/** t value of the excess over the baseline: 4 is far outside what two flat series give by chance. */
const FAIL_T = 4;
const WARN_T = 2.5;

export interface LeakJudgement {
  readonly verdict: 'FAIL' | 'WARN' | 'PASS';
  /** The baseline's slope, never below 0 (a falling baseline is noise, not credit). */
  readonly baselineSlope: number;
  /** Bytes per distinct key beyond the baseline's per request. */
  readonly excess: number;
  /** How clearly: the excess over the standard error of both fits. */
  readonly t: number;
  /** The excess over every judged key. */
  readonly growth: number;
}

/** `exact`: the readings are heap right after a full GC (live objects only). */
export function judgeLeak(judged: LineFit, baseline: LineFit, judgedKeys: number, exact: boolean): LeakJudgement {
  const baselineSlope = Math.max(0, baseline.slope);
  const excess = judged.slope - baselineSlope;
  const t = excessT(judged, { ...baseline, slope: baselineSlope });
  const growth = excess * judgedKeys;
  const floor = exact ? FLOORS.exact : FLOORS.noisy;
  const verdict =
    excess >= floor.failBytes && t >= FAIL_T && growth >= FAIL_MIN_GROWTH ? 'FAIL'
    : excess >= floor.warnBytes && t >= WARN_T && growth >= WARN_MIN_GROWTH ? 'WARN'
    : 'PASS';
  return { verdict, baselineSlope, excess, t, growth };
}
