/** Small numeric helpers for the load probes. Pure. */

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? 0;
}

/** Least-squares slope of y over x; 0 with fewer than two distinct x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Runs `task(i)` for i in [0, count) with at most `inFlight` at once. */
export async function pool(count: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(inFlight, count) }, async () => {
    while (next < count) await task(next++);
  });
  await Promise.all(lanes);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (abs >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

export interface LineFit {
  /** Least-squares slope. */
  readonly slope: number;
  /** The slope over its standard error; large when the points lie on a rising line, near 0 for noise. */
  readonly t: number;
  /** Standard error of the slope (Infinity with fewer than three points or no spread, 0 for a straight line). */
  readonly se: number;
}

/** Least-squares line with the t value of its slope (0 with fewer than three points or no spread). */
export function fitLine(points: readonly (readonly [number, number])[]): LineFit {
  const n = points.length;
  const b = slope(points);
  if (n < 3) return { slope: b, t: 0, se: Infinity };
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxx = 0;
  let residual = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    residual += (y - (my + b * (x - mx))) ** 2;
  }
  if (sxx === 0) return { slope: b, t: 0, se: Infinity };
  const se = Math.sqrt(residual / (n - 2) / sxx);
  // A perfectly straight series (no residual): as clear as a line gets.
  if (se === 0) return { slope: b, t: b === 0 ? 0 : Math.sign(b) * 1e6, se };
  return { slope: b, t: b / se, se };
}

/**
 * How clearly slope `a` exceeds slope `b`: their difference over the standard error of the
 * difference (Welch's form, the two fits being independent). 0 when either fit has no error estimate
 * (too few points); a large number when both lines are exact and `a` is the steeper.
 */
export function excessT(a: LineFit, b: LineFit): number {
  const diff = a.slope - b.slope;
  if (!Number.isFinite(a.se) || !Number.isFinite(b.se)) return 0;
  const se = Math.sqrt(a.se ** 2 + b.se ** 2);
  if (se === 0) return diff === 0 ? 0 : Math.sign(diff) * 1e6;
  return diff / se;
}
