/**
 * Exhaustion: hold the slow routes with N concurrent clients (spread over every --slow) and time
 * the fast route at a steady rate meanwhile. A healthy service either keeps the fast route fast
 * (isolated: bulkheads, an event loop that is not blocked) or refuses the excess with 503 +
 * Retry-After (sheds). A stalled one makes every route wait for the slow one: gunicorn -w 4 with
 * time.sleep(10), or CPU work on Node's event loop. After the doctor stops, it keeps timing the
 * fast route until it answers in time again: a pool of sync workers stays asleep in requests the
 * doctor already gave up on, and how long is part of the answer (issue 14, class 7).
 *
 * The doctor's own load is bounded: `clients` connections on the slow routes, at most 16 on the
 * fast one, which is asked 10 times a second; nothing else runs meanwhile.
 */
import { makeAgent, send } from './http.ts';
import type { Answer } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import { percentile, sleep } from './stats.ts';

const FAST_INTERVAL_MS = 100;
const RECOVERY_POLL_MS = 250;

export interface FastTimings {
  readonly answers: readonly Answer[];
  readonly timeouts: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Latencies of the fast route; a timeout counts at the timeout (it is the latency the user saw). */
export function fastTimings(answers: readonly Answer[], timeoutMs: number): FastTimings {
  const latencies = answers.filter((a) => a.status > 0 || a.timedOut).map((a) => (a.timedOut ? timeoutMs : a.ms)).sort((x, y) => x - y);
  return { answers, timeouts: answers.filter((a) => a.timedOut).length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0 };
}

/** Asks `fast` every 100 ms until `until()` says stop; returns every answer. */
export async function timeFast(options: DoctorOptions, fast: string, timeoutMs: number, until: () => boolean, progress?: (n: number) => void): Promise<Answer[]> {
  const agent = makeAgent(options.target, 16);
  const runs: Promise<Answer>[] = [];
  try {
    while (!until()) {
      progress?.(runs.length);
      runs.push(send(options.target, fast, { agent, timeoutMs }));
      await sleep(FAST_INTERVAL_MS);
    }
    return await Promise.all(runs);
  } finally {
    agent.destroy();
  }
}

/** Milliseconds until `fast` answers within `stallMs` again, or undefined when it did not within the bound. */
async function recovery(options: DoctorOptions, fast: string): Promise<number | undefined> {
  const started = performance.now();
  const endAt = started + options.recoveryMaxSec * 1000;
  while (performance.now() < endAt) {
    const left = endAt - performance.now();
    const a = await send(options.target, fast, { timeoutMs: Math.max(50, Math.min(left, options.stallMs)) });
    if (a.status > 0 && a.status < 500 && a.ms <= options.stallMs) return Math.round(performance.now() - started);
    await sleep(RECOVERY_POLL_MS);
  }
  return undefined;
}

export async function probeExhaustion(options: DoctorOptions, findings: Finding[], progress: (text: string, share?: number) => void): Promise<void> {
  const { slows, fast, clients, seconds, stallMs } = options;
  if (slows.length === 0 || fast === undefined) return;
  const slowAgent = makeAgent(options.target, clients);
  const fastTimeoutMs = Math.max(2 * stallMs, 2_000);
  let timing: { baseline: number[]; fastAnswers: Answer[]; slowAnswers: Answer[] };
  try {
    const baseline: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await send(options.target, fast, { timeoutMs: fastTimeoutMs });
      if (a.status > 0) baseline.push(a.ms);
    }
    const startedAt = performance.now();
    const endAt = startedAt + seconds * 1000;
    const slowAnswers: Answer[] = [];
    const holders = Array.from({ length: clients }, async (_, i) => {
      const slow = slows[i % slows.length] ?? '/';
      while (performance.now() < endAt) {
        const left = endAt - performance.now();
        const a = await send(options.target, slow, { agent: slowAgent, timeoutMs: Math.max(50, left) });
        slowAnswers.push(a);
        // A shed request returns at once; wait a moment so a 503 loop does not become a flood.
        if (a.status === 503 || a.status === 0) await sleep(50);
      }
    });
    // Let the slow requests take their slots before timing the fast route.
    await sleep(Math.min(500, seconds * 100));
    const fastAnswers = await timeFast(options, fast, fastTimeoutMs, () => performance.now() >= endAt, (n) =>
      progress(`exhaustion: ${n} fast requests, ${slowAnswers.length} slow answers`, (performance.now() - startedAt) / (seconds * 1000)));
    await Promise.all(holders);
    timing = { baseline, fastAnswers, slowAnswers };
  } finally {
    // Drops the slow requests still held: the probe's load ends with the probe.
    slowAgent.destroy();
  }
  progress('exhaustion: waiting for the target to recover');
  const recoveredMs = await recovery(options, fast);
  findings.push(classify(options, timing.baseline, timing.fastAnswers, timing.slowAnswers, fastTimeoutMs, recoveredMs));
}

function classify(options: DoctorOptions, baseline: number[], fastAnswers: Answer[], slowAnswers: Answer[], fastTimeoutMs: number, recoveredMs: number | undefined): Finding {
  const t = fastTimings(fastAnswers, fastTimeoutMs);
  const ok = fastAnswers.filter((a) => a.status > 0 && a.status < 500);
  const fastShed = fastAnswers.filter((a) => a.status === 503).length;
  const errors = fastAnswers.length - ok.length - fastShed - t.timeouts;
  const shedAnswers = [...slowAnswers, ...fastAnswers].filter((a) => a.status === 503);
  const retryAfter = shedAnswers.some((a) => a.headers['retry-after'] !== undefined);
  const slowDone = slowAnswers.filter((a) => a.status > 0 && a.status !== 503).length;
  const base = percentile([...baseline].sort((x, y) => x - y), 50);
  const slowList = options.slows.join(', ');
  const data = {
    fastRequests: fastAnswers.length, fastP50Ms: Math.round(t.p50), fastP99Ms: Math.round(t.p99), fastMaxMs: Math.round(t.max), fastTimeouts: t.timeouts,
    fastErrors: errors, fastShed, baselineP50Ms: Math.round(base), slowRoutes: slowList, slowAnswers: slowAnswers.length, slowCompleted: slowDone, slowShed: shedAnswers.length - fastShed, retryAfter,
    clients: options.clients, seconds: options.seconds, recoveryMs: recoveredMs ?? null, recovered: recoveredMs !== undefined,
  };
  const recovered = recoveredMs === undefined ? `still stalled ${options.recoveryMaxSec} s after the doctor stopped` : `answered in time again ${(recoveredMs / 1000).toFixed(1)} s after the doctor stopped`;
  const numbers = `${options.fast ?? ''} p50 ${data.fastP50Ms} ms, p99 ${data.fastP99Ms} ms, max ${data.fastMaxMs} ms over ${fastAnswers.length} requests (${t.timeouts} timeouts, ${errors} errors; ${data.baselineP50Ms} ms before load) while ${options.clients} clients held ${slowList}; ${recovered}`;
  const fix = 'bound the slow route (vial: { concurrency, timeoutMs } per route; gunicorn: more workers or threads plus a timeout) and shed the excess with 503 + Retry-After; move CPU work off the event loop (ctx.offload / worker)';
  const probe = `${slowList} vs ${options.fast ?? ''}`;
  const base2 = { check: 'exhaustion', class: 'exhaustion', probe, fix } as const;
  if (t.timeouts > 0 || t.p99 > options.stallMs) return { ...base2, verdict: 'FAIL', evidence: `stalls: ${numbers}`, data: { ...data, classification: 'stalls' } };
  if (shedAnswers.length > 0) {
    const verdict = retryAfter && fastShed <= fastAnswers.length / 10 ? 'PASS' : 'WARN';
    const note = retryAfter ? '' : ' (503 without Retry-After)';
    return { ...base2, verdict, evidence: `sheds: ${data.slowShed} slow and ${fastShed} fast requests got 503${note}; ${numbers}`, data: { ...data, classification: 'sheds' } };
  }
  if (errors > 0) return { ...base2, verdict: 'WARN', evidence: `errors on the fast route: ${numbers}`, data: { ...data, classification: 'errors' } };
  return { ...base2, verdict: 'PASS', evidence: `isolated: ${numbers}`, data: { ...data, classification: 'isolated' } };
}
