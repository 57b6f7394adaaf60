/**
 * The per-route request counter and latency histogram, recorded on the `vial:request` hot path.
 *
 * Intentionally not prom-client's Counter/Histogram: their `labels(...).observe()` hashes the label
 * object (sorted keys, joined) on every call. Here a series is found through three nested lookups
 * (route, method, status class) that allocate nothing once the series exists, and recording is a
 * short bucket scan plus three increments. prom-client reads the series through `get()`, the same
 * duck-typed shape its own metrics return, so `registry.metrics()` and the cluster aggregator
 * (`AggregatorRegistry.aggregate`) treat them like any other metric.
 */
import type { Metric, Registry } from 'prom-client';

/** The shape prom-client's own metrics return from get() (its .d.ts does not export it). */
interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}
interface MetricData {
  name: string;
  help: string;
  type: string;
  aggregator: 'sum';
  values: MetricValue[];
}

/** Seconds; from a cache hit to a slow downstream call. */
export const LATENCY_BUCKETS_SEC: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface Series {
  readonly labels: { route: string; method: string; status_class: string };
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export class RequestSeries {
  readonly #byRoute = new Map<string, Map<string, (Series | undefined)[]>>();
  readonly #all: Series[] = [];

  record(route: string, method: string, status: number, durationMs: number): void {
    let byMethod = this.#byRoute.get(route);
    if (byMethod === undefined) this.#byRoute.set(route, (byMethod = new Map<string, (Series | undefined)[]>()));
    let byClass = byMethod.get(method);
    if (byClass === undefined) byMethod.set(method, (byClass = []));
    const cls = status >= 100 && status < 600 ? (status / 100) | 0 : 5;
    let series = byClass[cls];
    if (series === undefined) {
      series = { labels: { route, method, status_class: STATUS_CLASSES[cls]! }, buckets: new Float64Array(LATENCY_BUCKETS_SEC.length), sum: 0, count: 0 };
      byClass[cls] = series;
      this.#all.push(series);
    }
    const sec = durationMs / 1000;
    const buckets = series.buckets;
    // Non-cumulative counts; get() accumulates them (a request lands in exactly one bucket here).
    for (let i = 0; i < LATENCY_BUCKETS_SEC.length; i++) {
      if (sec <= LATENCY_BUCKETS_SEC[i]!) {
        buckets[i]!++;
        break;
      }
    }
    series.sum += sec;
    series.count++;
  }

  /** Registers `vial_http_requests_total` and `vial_http_request_duration_seconds` in `registry`. */
  register(registry: Registry): void {
    const all = this.#all;
    const counter = {
      name: 'vial_http_requests_total',
      help: 'Finished requests by route key, method and status class (refused ones included).',
      type: 'counter',
      aggregator: 'sum',
      get: (): Promise<MetricData> =>
        Promise.resolve({ name: counter.name, help: counter.help, type: 'counter', aggregator: 'sum', values: all.map((s) => ({ labels: { ...s.labels }, value: s.count })) }),
      reset: (): void => {},
    };
    const histogram = {
      name: 'vial_http_request_duration_seconds',
      help: 'Request duration from arrival to the last byte written, by route key, method and status class.',
      type: 'histogram',
      aggregator: 'sum',
      get: (): Promise<MetricData> => {
        const values: MetricValue[] = [];
        const name = histogram.name;
        for (const s of all) {
          let cumulative = 0;
          for (let i = 0; i < LATENCY_BUCKETS_SEC.length; i++) {
            cumulative += s.buckets[i]!;
            values.push({ labels: { ...s.labels, le: LATENCY_BUCKETS_SEC[i]! }, value: cumulative, metricName: `${name}_bucket` });
          }
          values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` });
          values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${name}_sum` });
          values.push({ labels: { ...s.labels }, value: s.count, metricName: `${name}_count` });
        }
        return Promise.resolve({ name, help: histogram.help, type: 'histogram', aggregator: 'sum', values });
      },
      reset: (): void => {},
    };
    // prom-client types registerMetric for its own classes; it only reads name, type and get().
    registry.registerMetric(counter as unknown as Metric);
    registry.registerMetric(histogram as unknown as Metric);
  }
}
