/**
 * A fixed log-scale latency histogram for percentiles (p50/p95/p99) over short windows. Buckets
 * grow by 10% from 0.01 ms to about 10 minutes, so a percentile is within ~5% of the true value;
 * recording is one Math.log and one increment, with no allocation. Prometheus histograms have a
 * dozen coarse buckets, too few to draw a p99 line from, hence this second, finer one.
 *
 * Pure module: no I/O, no timers.
 */

const MIN_MS = 0.01;
const GROWTH = 1.1;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 190; // 0.01 ms × 1.1^190 ≈ 7.3e5 ms

export class LatencyHistogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;

  record(ms: number): void {
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[i]!++;
    this.count++;
  }

  /** Adds another histogram's counts into this one. */
  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
  }

  /** The upper bound of the bucket holding the q-th quantile (0..1), in ms; 0 when empty. */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return MIN_MS * GROWTH ** i;
    }
    return MIN_MS * GROWTH ** (BUCKETS - 1);
  }
}
