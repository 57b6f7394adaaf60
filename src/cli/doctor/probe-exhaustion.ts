/**
 * Exhaustion: hold the slow route with N concurrent clients and time the fast route at a steady
 * rate meanwhile. A healthy service either keeps the fast route fast (isolated: bulkheads, an
 * event loop that is not blocked) or refuses the excess with 503 + Retry-After (sheds). A stalled
 * one makes every route wait for the slow one: gunicorn -w 4 with time.sleep(10), or CPU work on
 * Node's event loop.
 */
import { makeAgent, send } from './http.ts';
import type { Answer } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import { percentile, sleep } from './stats.ts';

const FAST_INTERVAL_MS = 100;

export async function probeExhaustion(options: DoctorOptions, findings: Finding[], progress: (text: string) => void): Promise<void> {
  const { slow, fast, clients, seconds, stallMs } = options;
  if (slow === undefined || fast === undefined) return;
  const slowAgent = makeAgent(options.target, clients);
  const fastAgent = makeAgent(options.target, 16);
  const fastTimeoutMs = Math.max(2 * stallMs, 2_000);
  try {
    const baseline: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await send(options.target, fast, { agent: fastAgent, timeoutMs: fastTimeoutMs });
      if (a.status > 0) baseline.push(a.ms);
    }
    const endAt = performance.now() + seconds * 1000;
    const slowAnswers: Answer[] = [];
    const holders = Array.from({ length: clients }, async () => {
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
    const fastRuns: Promise<Answer>[] = [];
    while (performance.now() < endAt) {
      progress(`exhaustion: ${fastRuns.length} fast requests, ${slowAnswers.length} slow answers`);
      fastRuns.push(send(options.target, fast, { agent: fastAgent, timeoutMs: fastTimeoutMs }));
      await sleep(FAST_INTERVAL_MS);
    }
    const fastAnswers = await Promise.all(fastRuns);
    await Promise.all(holders);
    findings.push(classify(options, baseline, fastAnswers, slowAnswers, fastTimeoutMs));
  } finally {
    // Drops the slow requests still held: the probe's load ends with the probe.
    slowAgent.destroy();
    fastAgent.destroy();
  }
}

function classify(options: DoctorOptions, baseline: number[], fastAnswers: Answer[], slowAnswers: Answer[], fastTimeoutMs: number): Finding {
  const ok = fastAnswers.filter((a) => a.status > 0 && a.status < 500);
  const timeouts = fastAnswers.filter((a) => a.timedOut).length;
  const fastShed = fastAnswers.filter((a) => a.status === 503).length;
  const errors = fastAnswers.length - ok.length - fastShed - timeouts;
  // Timeouts count at the timeout: they are the latency the user saw.
  const latencies = fastAnswers.filter((a) => a.status > 0 || a.timedOut).map((a) => (a.timedOut ? fastTimeoutMs : a.ms)).sort((x, y) => x - y);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const max = latencies.at(-1) ?? 0;
  const shedAnswers = [...slowAnswers, ...fastAnswers].filter((a) => a.status === 503);
  const retryAfter = shedAnswers.some((a) => a.headers['retry-after'] !== undefined);
  const slowDone = slowAnswers.filter((a) => a.status > 0 && a.status !== 503).length;
  const base = percentile([...baseline].sort((x, y) => x - y), 50);
  const data = {
    fastRequests: fastAnswers.length, fastP50Ms: Math.round(p50), fastP99Ms: Math.round(p99), fastMaxMs: Math.round(max), fastTimeouts: timeouts,
    fastErrors: errors, fastShed, baselineP50Ms: Math.round(base), slowAnswers: slowAnswers.length, slowCompleted: slowDone, slowShed: shedAnswers.length - fastShed, retryAfter,
  };
  const numbers = `/fast p50 ${data.fastP50Ms} ms, p99 ${data.fastP99Ms} ms, max ${data.fastMaxMs} ms over ${fastAnswers.length} requests (${timeouts} timeouts, ${errors} errors; ${data.baselineP50Ms} ms before load) while ${options.clients} clients held ${options.slow ?? ''}`;
  const fix = 'bound the slow route (vial: { concurrency, timeoutMs } per route; gunicorn: more workers or async workers plus a timeout) and shed the excess with 503 + Retry-After; move CPU work off the event loop (ctx.offload / worker)';
  const probe = `${options.slow ?? ''} vs ${options.fast ?? ''}`;
  if (timeouts > 0 || p99 > options.stallMs) {
    return { class: 'exhaustion', probe, verdict: 'FAIL', evidence: `stalls: ${numbers}`, fix, data: { ...data, classification: 'stalls' } };
  }
  if (shedAnswers.length > 0) {
    const verdict = retryAfter && fastShed <= fastAnswers.length / 10 ? 'PASS' : 'WARN';
    const note = retryAfter ? '' : ' (503 without Retry-After)';
    return { class: 'exhaustion', probe, verdict, evidence: `sheds: ${data.slowShed} slow and ${fastShed} fast requests got 503${note}; ${numbers}`, fix, data: { ...data, classification: 'sheds' } };
  }
  if (errors > 0) return { class: 'exhaustion', probe, verdict: 'WARN', evidence: `errors on the fast route: ${numbers}`, fix, data: { ...data, classification: 'errors' } };
  return { class: 'exhaustion', probe, verdict: 'PASS', evidence: `isolated: ${numbers}`, fix, data: { ...data, classification: 'isolated' } };
}
