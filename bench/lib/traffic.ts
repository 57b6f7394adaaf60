/**
 * The traffic generator's engine: open-loop loads (a constant schedule, wrk2-style) and closed-loop
 * loads (N clients, each sending its next request when the previous one answered), several at once.
 *
 * Open loop is what pool exhaustion and overload need. A closed-loop client that waits 2 s for an
 * answer simply sends less, so the stall never shows in its percentiles (coordinated omission).
 * Here request k is due at `start + k / rate` whatever happened before, and its latency is measured
 * from that due time: time spent waiting for a free connection counts. Connections are capped; a
 * request that finds none free waits in a backlog, and what is still there at the end is `unsent`.
 *
 * Runs inside the generator child (traffic-main.ts); `runTraffic` in traffic-run.ts starts that.
 */
import { HttpConn } from './http-conn.ts';
import type { HttpReply } from './http-conn.ts';

export interface OpenLoad {
  readonly kind: 'open';
  readonly name: string;
  /** `{i}` is replaced by the request's number in this load (unique keys). */
  readonly path: string;
  readonly ratePerSec: number;
  readonly durationMs: number;
  readonly maxConnections: number;
  readonly startAfterMs?: number;
  /** A 200 counts towards `deadlineOkPerSec` when answered within this long of its due time (default 1000). */
  readonly deadlineMs?: number;
}

export interface ClosedLoad {
  readonly kind: 'closed';
  readonly name: string;
  readonly path: string;
  readonly connections: number;
  /** Stops at whichever comes first. At least one must be given. */
  readonly durationMs?: number;
  readonly totalRequests?: number;
  readonly startAfterMs?: number;
}

export type TrafficLoad = OpenLoad | ClosedLoad;

export interface TrafficSpec {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Per request: a reply slower than this counts as a `timeout` error. */
  readonly timeoutMs: number;
  readonly loads: readonly TrafficLoad[];
}

export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface TrafficReport {
  readonly name: string;
  readonly kind: 'open' | 'closed';
  /** Wall time from the load's start to its last answer. */
  readonly durationSec: number;
  /** Open loop: requests that fell due. Closed loop: requests sent. */
  readonly scheduled: number;
  readonly sent: number;
  /** Open loop: due but never sent (no free connection before the end). */
  readonly unsent: number;
  /** Answers by status code, as strings (`"200"`, `"503"`). */
  readonly statuses: Readonly<Record<string, number>>;
  readonly errors: { readonly connect: number; readonly read: number; readonly timeout: number };
  /** Every answer, whatever its status. */
  readonly latencyMs: LatencySummary;
  /** 200 answers only: what an admitted request waited. */
  readonly okLatencyMs: LatencySummary;
  /**
   * 200 answers only, from the moment each was written to its connection: the server's share,
   * without the wait for a free connection that okLatencyMs also counts.
   */
  readonly okSinceSendMs: LatencySummary;
  /** 200 answers per second of the schedule (goodput). */
  readonly okPerSec: number;
  /**
   * Open loop: 200 answers within `deadlineMs` of their due time, per second of the schedule
   * (deadline-goodput: what a client with a deadline could use). Closed loop: NaN.
   */
  readonly deadlineOkPerSec: number;
  /**
   * Open loop: how late the generator itself sent requests that had a free connection (its
   * own timer and loop lag, not the server's): p99 and max in ms. A generator that falls behind
   * measures itself; closed loop: NaN.
   */
  readonly sendLagMs: { readonly p99: number; readonly max: number };
  /** Connections opened at most at once. */
  readonly peakConnections: number;
}

class Recorder {
  readonly statuses: Record<string, number> = {};
  readonly errors = { connect: 0, read: 0, timeout: 0 };
  readonly all: number[] = [];
  readonly ok: number[] = [];
  readonly okSinceSend: number[] = [];
  readonly sendLag: number[] = [];
  sent = 0;
  okWithinDeadline = 0;
  deadlineMs = Number.POSITIVE_INFINITY;

  record(reply: HttpReply, latencyMs: number, sinceSendMs: number = latencyMs): void {
    if (reply.error !== undefined) {
      this.errors[reply.error]++;
      return;
    }
    const key = String(reply.status);
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    this.all.push(latencyMs);
    if (reply.status === 200) {
      this.ok.push(latencyMs);
      this.okSinceSend.push(sinceSendMs);
      if (latencyMs <= this.deadlineMs) this.okWithinDeadline++;
    }
  }
}

export function summarizeLatency(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number): number => (sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number));
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, mean: sorted.length === 0 ? Number.NaN : sum / sorted.length, p50: at(50), p90: at(90), p99: at(99), max: at(100) };
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runTrafficSpec(spec: TrafficSpec): Promise<TrafficReport[]> {
  const { hostname, port } = new URL(spec.url);
  const makeConn = (): HttpConn => new HttpConn(hostname, Number(port), spec.timeoutMs);
  return Promise.all(spec.loads.map((load) => (load.kind === 'open' ? runOpen(load, makeConn) : runClosed(load, makeConn))));
}

async function runOpen(load: OpenLoad, makeConn: () => HttpConn): Promise<TrafficReport> {
  await wait(load.startAfterMs ?? 0);
  const rec = new Recorder();
  rec.deadlineMs = load.deadlineMs ?? 1000;
  const idle: HttpConn[] = [];
  const all: HttpConn[] = [];
  const backlog: number[] = []; // due times of requests waiting for a connection
  const inFlight = new Set<Promise<void>>();
  let n = 0;
  let ended = false;
  const send = (conn: HttpConn, dueAt: number): void => {
    rec.sent++;
    const path = load.path.replaceAll('{i}', String(n++));
    const sentAt = performance.now();
    const done = conn.get(path).then((reply) => {
      const now = performance.now();
      rec.record(reply, now - dueAt, now - sentAt);
      inFlight.delete(done);
      // Once the schedule is over the backlog is not drained: those requests count as unsent.
      const next = ended ? undefined : backlog.shift();
      if (next !== undefined) send(conn, next);
      else idle.push(conn);
    });
    inFlight.add(done);
  };
  const dispatch = (dueAt: number): void => {
    let conn = idle.pop();
    if (conn === undefined && all.length < load.maxConnections) {
      conn = makeConn();
      all.push(conn);
    }
    if (conn === undefined) backlog.push(dueAt);
    else {
      rec.sendLag.push(performance.now() - dueAt);
      send(conn, dueAt);
    }
  };

  const start = performance.now();
  const intervalMs = 1000 / load.ratePerSec;
  const total = Math.floor((load.durationMs / 1000) * load.ratePerSec);
  let k = 0;
  while (k < total) {
    const now = performance.now();
    // Everything due by now goes out in order; a late tick (a busy generator) catches up rather than skipping.
    while (k < total && start + k * intervalMs <= now) dispatch(start + k++ * intervalMs);
    if (k < total) await wait(Math.max(0, Math.min(5, start + k * intervalMs - performance.now())));
  }
  // Let the last answers arrive; whatever is still in the backlog was never sent.
  ended = true;
  while (inFlight.size > 0) await Promise.race(inFlight);
  const unsent = backlog.length;
  backlog.length = 0;
  for (const c of all) c.close();
  return report(load, rec, start, total, unsent, all.length, load.durationMs / 1000);
}

async function runClosed(load: ClosedLoad, makeConn: () => HttpConn): Promise<TrafficReport> {
  await wait(load.startAfterMs ?? 0);
  const rec = new Recorder();
  const start = performance.now();
  const stopAt = start + (load.durationMs ?? Number.POSITIVE_INFINITY);
  const limit = load.totalRequests ?? Number.POSITIVE_INFINITY;
  let n = 0;
  const client = async (): Promise<void> => {
    const conn = makeConn();
    while (n < limit && performance.now() < stopAt) {
      const path = load.path.replaceAll('{i}', String(n++));
      rec.sent++;
      const sentAt = performance.now();
      rec.record(await conn.get(path), performance.now() - sentAt);
    }
    conn.close();
  };
  await Promise.all(Array.from({ length: load.connections }, client));
  const elapsedSec = (performance.now() - start) / 1000;
  return report(load, rec, start, rec.sent, 0, load.connections, elapsedSec);
}

function report(load: TrafficLoad, rec: Recorder, start: number, scheduled: number, unsent: number, peak: number, rateSec: number): TrafficReport {
  return {
    name: load.name,
    kind: load.kind,
    durationSec: (performance.now() - start) / 1000,
    scheduled,
    sent: rec.sent,
    unsent,
    statuses: rec.statuses,
    errors: rec.errors,
    latencyMs: summarizeLatency(rec.all),
    okLatencyMs: summarizeLatency(rec.ok),
    okSinceSendMs: summarizeLatency(rec.okSinceSend),
    okPerSec: rateSec > 0 ? (rec.statuses['200'] ?? 0) / rateSec : Number.NaN,
    deadlineOkPerSec: load.kind === 'open' && rateSec > 0 ? rec.okWithinDeadline / rateSec : Number.NaN,
    sendLagMs: (() => {
      const lag = summarizeLatency(rec.sendLag);
      return { p99: lag.p99, max: lag.max };
    })(),
    peakConnections: peak,
  };
}
