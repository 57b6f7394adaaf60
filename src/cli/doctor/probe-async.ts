/**
 * Async, apart from exhaustion (issue 14, class 6): does a route that waits run many requests at
 * once, or does each one hold what the others need? `N` requests to `--async` go out together
 * while the fast route is timed. From how long one request takes alone (`d`) and how long the N
 * took together (`E`), the parallelism the server gave them is `N·d / E`:
 *
 * - about N, fast route unaffected: non-blocking (vial awaiting I/O; threads sized for the waits);
 * - about 1, fast route stalled: the route blocks (CPU or synchronous I/O inside an async handler
 *   on Node's event loop);
 * - in between: each request holds a worker for its whole wait (Flask's `async def` under
 *   gunicorn's sync workers: the view runs in an event loop of its own, inside the one worker).
 */
import { makeAgent, send } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import { fastTimings, timeFast } from './probe-exhaustion.ts';

const FIX_HOLDS = 'a waiting request must not hold a worker: Flask runs an async def view inside the sync worker that took it (asyncio does not free the worker), so use gthread with threads sized for the waits (--threads), gevent, or an ASGI server; in vial an await frees the event loop, bound the route with { concurrency, timeoutMs }';
const FIX_BLOCKS = 'the route blocks while it runs: in vial move synchronous work (pbkdf2Sync, readFileSync, a CPU loop) to the async API or ctx.offload(); in Flask keep blocking calls out of async def views or give the app threads (gthread)';

export async function probeAsync(options: DoctorOptions, findings: Finding[], progress: (text: string, share?: number) => void): Promise<void> {
  const route = options.asyncRoute;
  const fast = options.fast;
  if (route === undefined || fast === undefined) return;
  const n = options.asyncClients;
  const probe = `async ${route}`;
  const base = { check: 'async', class: 'exhaustion', probe } as const;
  const timeoutMs = Math.max(options.timeoutMs, 30_000);
  const solo = await send(options.target, route, { timeoutMs });
  if (solo.status === 0 || solo.status >= 400) {
    findings.push({ ...base, verdict: 'SKIP', evidence: `GET ${route} alone answered ${solo.status || solo.error}, so its concurrency could not be measured`, fix: 'point --async at a route that answers 2xx after waiting' });
    return;
  }
  const agent = makeAgent(options.target, n);
  const fastTimeoutMs = Math.max(2 * options.stallMs, 2_000);
  let done = 0;
  const started = performance.now();
  try {
    const burst = Promise.all(Array.from({ length: n }, async () => {
      const a = await send(options.target, route, { agent, timeoutMs });
      done++;
      return a;
    }));
    const fastAnswers = await timeFast(options, fast, fastTimeoutMs, () => done >= n, () => progress(`async: ${done}/${n} requests to ${route} done`, done / n));
    const answers = await burst;
    const elapsed = performance.now() - started;
    const okAnswers = answers.filter((a) => a.status > 0 && a.status < 400);
    const shed = answers.filter((a) => a.status === 503).length;
    const parallel = (okAnswers.length * solo.ms) / Math.max(elapsed, 1);
    const t = fastTimings(fastAnswers, fastTimeoutMs);
    const stalled = t.timeouts > 0 || t.p99 > options.stallMs;
    const data = { requests: n, soloMs: Math.round(solo.ms), elapsedMs: Math.round(elapsed), parallelism: Math.round(parallel * 10) / 10, ok: okAnswers.length, shed, fastP99Ms: Math.round(t.p99), fastTimeouts: t.timeouts };
    const numbers = `${n} requests to ${route} (${Math.round(solo.ms)} ms alone) took ${Math.round(elapsed)} ms together, about ${data.parallelism} at a time; ${fast} p99 ${data.fastP99Ms} ms (${t.timeouts} timeouts) meanwhile`;
    if (okAnswers.length + shed < n / 2) findings.push({ ...base, verdict: 'SKIP', evidence: `most requests failed: ${numbers}`, fix: 'check the --async route', data });
    else if (shed > 0 && !stalled) findings.push({ ...base, verdict: 'PASS', evidence: `sheds: ${shed} of ${n} got 503 and ${fast} stayed fast; ${numbers}`, fix: FIX_HOLDS, data: { ...data, classification: 'sheds' } });
    else if (parallel >= n * 0.6 && !stalled) findings.push({ ...base, verdict: 'PASS', evidence: `non-blocking: ${numbers}`, fix: FIX_HOLDS, data: { ...data, classification: 'non-blocking' } });
    else if (parallel < 1.5) findings.push({ ...base, verdict: 'FAIL', evidence: `blocks: the requests ran one after another and held up the others; ${numbers}`, fix: FIX_BLOCKS, data: { ...data, classification: 'blocks' } });
    else findings.push({ ...base, verdict: 'FAIL', evidence: `holds a worker while it waits: ${numbers}`, fix: FIX_HOLDS, data: { ...data, classification: 'holds-worker' } });
  } finally {
    agent.destroy();
  }
}
