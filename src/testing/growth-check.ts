/**
 * The growth check of vial/testing: the doctor's `--leak` probe as a test helper (issue 14,
 * failure 1). It sends many distinct keys to a route and reads memory between batches: by default
 * this process's V8 heap used right after a full GC, which holds live objects only, so an app
 * under test in the same process shows even a leak of a short string per key.
 *
 * The run has the doctor's four parts: a settle of repeated keys (JIT, pools, buffers), a warm-up
 * of distinct keys past the app's bounds (a bounded cache fills; that growth is the plateau,
 * reported, never judged), a baseline of repeated keys (what any request adds), and the judged
 * distinct keys. The verdict is the growth per distinct key beyond the baseline's per request,
 * weighed against the noise of both fitted lines, with the doctor's floors and t values (the rules
 * of src/cli/doctor/probe-leak.ts, which the CLI and these helpers must keep in step).
 */
import { AssertionError } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { FAIL_MIN_GROWTH, judgeLeak } from '../cli/doctor/leak-verdict.ts';
import { fitLine, formatBytes, pool } from '../cli/doctor/stats.ts';
import { send } from '../cli/doctor/http.ts';
import { ConfigError } from '../errors.ts';
import { fullGc } from '../memory/full-gc.ts';
import { checkCount, checkRoute, checkSender, fillRoute } from './check-target.ts';
import type { CheckSender, CheckTarget } from './check-target.ts';
import type { TestRequest } from './client.ts';
import type { CheckVerdict } from './race-check.ts';

/** Where the growth check reads memory, once per sample. */
export interface GrowthMemory {
  readBytes(): number | Promise<number>;
  /**
   * True when a reading holds live objects only (heap used right after a full GC): growth of 16 B
   * per distinct key can FAIL. False for RSS or a heap figure between GCs, which carry allocator
   * creep and lazily collected garbage: the floor is then 128 B per key, as in the doctor.
   */
  readonly afterFullGc: boolean;
  /** Named in the result's message. */
  readonly source: string;
}

export interface GrowthCheckOptions {
  /** The app (driven in-process through the test client) or the base URL of a running server. */
  readonly target: CheckTarget;
  /** The route under test, with `{n}` where the key goes (as in `vial doctor --leak`): `/cache?key={n}`. */
  readonly route: string;
  /** Default GET. */
  readonly method?: string;
  /** The rest of each request, for a key carried elsewhere than the route (a header, a JSON body). */
  readonly request?: (key: string) => TestRequest;
  /** Requests in all (settle, warm-up, baseline, judged). Default 20,000. */
  readonly requests?: number;
  /**
   * Distinct keys sent before judging: set it above the bounds of the app's caches (their
   * maxEntries), so they are full before growth is judged. Default 40% of `requests`.
   */
  readonly warmupKeys?: number;
  /** Requests in flight at once. Default 16. */
  readonly inFlight?: number;
  /** Per request, over a socket (a URL target). Default 5,000 ms. */
  readonly timeoutMs?: number;
  /**
   * Runs disturbed by something else in the process releasing memory (a fall of 256 KiB or more
   * between two readings) are repeated with fresh keys, up to this many runs in all; if the last is
   * disturbed too, the verdict is SKIP. Default 3.
   */
  readonly attempts?: number;
  /**
   * Default: this process's V8 heap used right after a full GC, right for an app driven in-process
   * or listening in this process. For a server in another process, pass `adminHeapAfterGc(url)`.
   */
  readonly memory?: GrowthMemory;
}

export interface GrowthCheckResult {
  /** FAIL: grows per distinct key; WARN: may grow slowly (run longer); SKIP: most requests failed; PASS: plateaued. */
  readonly verdict: CheckVerdict;
  /** True only for PASS. */
  readonly ok: boolean;
  readonly message: string;
  readonly requests: number;
  readonly distinctKeys: number;
  readonly warmupKeys: number;
  /** Distinct keys sent after the warm-up, over which growth is judged. */
  readonly judgedKeys: number;
  /** Answers with a 2xx or 3xx status. */
  readonly okAnswers: number;
  /** Fitted growth per distinct key in the judged part, bytes. */
  readonly bytesPerKey: number;
  /** Fitted growth per repeated-key request in the baseline, bytes. */
  readonly baselineBytesPerRequest: number;
  /** bytesPerKey beyond the baseline (a negative baseline counts as 0). */
  readonly excessBytesPerKey: number;
  /** How clearly the excess stands out of the noise of both fits (the doctor FAILs at 4). */
  readonly excessT: number;
  /** excessBytesPerKey over all judged keys. */
  readonly judgedGrowthBytes: number;
  /** What the warm-up's distinct keys took: a bounded cache filling to its bound. */
  readonly warmupGrowthBytes: number;
  readonly startBytes: number;
  readonly endBytes: number;
  /** The largest fall between two readings after the warm-up, in the run judged. */
  readonly largestFallBytes: number;
  /** Runs made, 1 unless a run was disturbed. */
  readonly attempts: number;
  readonly source: string;
}

/** The doctor's run shape: settle share (at most 500), baseline share of the rest, samples, control keys. */
const SETTLE_SHARE = 0.05;
const BASELINE_SHARE = 0.25;
const BASELINE_SAMPLES = 8;
const JUDGED_SAMPLES = 12;
const CONTROL_KEYS = 20;
/**
 * A fall of memory this large between two readings after the warm-up (heap after a full GC, while
 * only the route is being sent requests) means something else in the process let go of memory
 * mid-run: an earlier test's app becoming garbage, a TTL sweep. The fitted lines would then say
 * nothing about the route (a falling baseline hides a leak), so the run is repeated with fresh keys.
 * It is the doctor's smallest growth that can FAIL: anything smaller stays within the fits' noise.
 */
const DISTURBED_FALL_BYTES = FAIL_MIN_GROWTH;
/** Requests between turns of the event loop, so what they queued runs before memory is read. */
const BATCH = 1_000;
const FIX = 'bound every cache keyed by request data (BoundedCache with maxEntries or ttlMs), or raise warmupKeys above its bound';

/**
 * In-process requests settle in microtasks and nextTicks only, so a run of them never lets the
 * event loop reach its check phase: every setImmediate they queued (the test client's socket
 * writes, ~9 KiB each, whose callbacks queue one more) would still be pending when memory is read,
 * and read as growth per request. So turn the loop until none is pending (a few turns; bounded,
 * for an app that keeps queueing its own).
 */
async function drainImmediates(): Promise<void> {
  for (let turn = 0; turn < 10 && process.getActiveResourcesInfo().includes('Immediate'); turn++) await nextMacrotask();
}

/**
 * This process's heap after full GCs with a turn of the event loop between them: objects that
 * carry weak callbacks (promises under an async hook, as inside a node:test test; native handles)
 * are freed only by the callback after one GC and the next GC, so a single GC left ~100 B per
 * request of them behind, released in lumps later: rising baselines and falls.
 */
const inProcessHeap: GrowthMemory = {
  afterFullGc: true,
  source: 'V8 heap used in this process right after a full GC',
  readBytes: async () => {
    fullGc();
    await nextMacrotask();
    fullGc();
    await nextMacrotask();
    return fullGc().heapUsedBytes;
  },
};

/** Memory of a vial server in another process: heap used right after a full GC, from its admin listener's `POST /memory/gc`. */
export function adminHeapAfterGc(adminUrl: string | URL, timeoutMs = 10_000): GrowthMemory {
  const url = new URL('/memory/gc', adminUrl);
  return {
    afterFullGc: true,
    source: `heap used after a full GC (POST ${url.href})`,
    readBytes: async () => {
      const answer = await send(url, url.pathname, { method: 'POST', timeoutMs });
      const bytes = answer.status === 200 ? (JSON.parse(answer.body) as { heapUsedBytes?: unknown }).heapUsedBytes : undefined;
      if (typeof bytes !== 'number') throw new ConfigError('VIAL_ERR_CONFIG', `POST ${url.href} answered ${answer.status || (answer.error ?? 'nothing')} without heapUsedBytes: pass the URL of a vial admin listener (vial run --admin-port).`);
      return bytes;
    },
  };
}

/**
 * Sends distinct keys to `route` past a warm-up and judges the memory growth per key against a
 * repeated-key baseline. Never throws for what the app answers; see `assertNoGrowth`.
 */
export async function checkGrowth(options: GrowthCheckOptions): Promise<GrowthCheckResult> {
  const requests = options.requests ?? 20_000;
  checkRoute('checkGrowth', options.route, 'n', options.request !== undefined);
  checkCount('checkGrowth', 'requests', requests, 100, 1_000_000);
  const warmup = options.warmupKeys ?? Math.floor(requests * 0.4);
  checkCount('checkGrowth', 'warmupKeys', warmup, 0, requests - 50);
  const inFlight = options.inFlight ?? 16;
  checkCount('checkGrowth', 'inFlight', inFlight, 1, 1_000);
  const attempts = options.attempts ?? 3;
  checkCount('checkGrowth', 'attempts', attempts, 1, 10);
  const sender = checkSender(options.target, { inFlight, timeoutMs: options.timeoutMs ?? 5_000, maxBytes: 1024 });
  try {
    let measured: Measured;
    let attempt = 0;
    do {
      attempt++;
      measured = await measure(options, sender, { requests, warmup, inFlight }, attempt);
    } while (attempt < attempts && disturbed(measured));
    return judge(measured);
  } finally {
    sender.close();
  }
}

/** One run of the four parts, with fresh keys. */
async function measure(options: GrowthCheckOptions, sender: CheckSender, plan: { requests: number; warmup: number; inFlight: number }, attempt: number): Promise<Measured> {
  const memory = options.memory ?? inProcessHeap;
  const method = options.method ?? 'GET';
  const run = randomBytes(4).toString('hex');
  let distinct = 0;
  let repeated = 0;
  let okAnswers = 0;
  const batch = async (count: number, unique: boolean): Promise<void> => {
    for (let sent = 0; sent < count; sent += BATCH) {
      await pool(Math.min(BATCH, count - sent), plan.inFlight, async () => {
        const key = unique ? `${run}-${distinct++}` : `${run}-c${repeated++ % CONTROL_KEYS}`;
        const answer = await sender.send(method, fillRoute(options.route, 'n', key), options.request?.(key) ?? {});
        if (answer.status >= 200 && answer.status < 400) okAnswers++;
      });
      await drainImmediates();
    }
  };
  /** `count` requests in `samples` batches, memory read after each: [requests so far in the phase, bytes]. */
  const sampled = async (count: number, samples: number, unique: boolean): Promise<[number, number][]> => {
    const points: [number, number][] = [[0, await memory.readBytes()]];
    const size = Math.max(1, Math.floor(count / samples));
    for (let i = 1; i <= samples; i++) {
      await batch(size, unique);
      points.push([i * size, await memory.readBytes()]);
    }
    return points;
  };
  const settle = Math.min(500, Math.floor(plan.requests * SETTLE_SHARE));
  const baselineCount = Math.floor((plan.requests - settle - plan.warmup) * BASELINE_SHARE);
  const judgedCount = plan.requests - settle - plan.warmup - baselineCount;
  await batch(settle, false);
  const startBytes = await memory.readBytes();
  await batch(plan.warmup, true);
  const warmEnd = await memory.readBytes();
  const baselinePoints = await sampled(baselineCount, BASELINE_SAMPLES, false);
  const points = await sampled(judgedCount, JUDGED_SAMPLES, true);
  const readings = [...baselinePoints, ...points].map(([, bytes]) => bytes);
  const largestFall = fallIn(readings);
  const baselineFall = fallIn(baselinePoints.map(([, bytes]) => bytes));
  return { memory, route: options.route, requests: distinct + repeated, distinct, warmup: plan.warmup, okAnswers, startBytes, warmEnd, baselinePoints, points, largestFall, baselineFall, attempt };
}

/** The largest drop between two consecutive readings. */
function fallIn(readings: readonly number[]): number {
  return readings.reduce((fall, bytes, i) => Math.max(fall, (readings[i - 1] ?? bytes) - bytes), 0);
}

/**
 * Whether something else in the process released memory in a way that could decide the verdict.
 * A fall among the judged readings only lowers their slope and widens their noise, so it can hide
 * growth but never make it: a FAIL over an undisturbed baseline stands. A fall anywhere else (the
 * baseline's slope, which the judged one is measured against) or under any other verdict repeats
 * the run.
 */
function disturbed(m: Measured): boolean {
  if (m.largestFall < DISTURBED_FALL_BYTES) return false;
  return !(m.baselineFall < DISTURBED_FALL_BYTES && leakJudgement(m).verdict === 'FAIL');
}

function leakJudgement(m: Measured): ReturnType<typeof judgeLeak> {
  return judgeLeak(fitLine(m.points), fitLine(m.baselinePoints), m.distinct - m.warmup, m.memory.afterFullGc);
}

interface Measured {
  readonly memory: GrowthMemory;
  readonly route: string;
  readonly requests: number;
  readonly distinct: number;
  readonly warmup: number;
  readonly okAnswers: number;
  readonly startBytes: number;
  readonly warmEnd: number;
  readonly baselinePoints: readonly [number, number][];
  readonly points: readonly [number, number][];
  /** The largest drop between two consecutive readings after the warm-up. */
  readonly largestFall: number;
  /** The same among the baseline's readings only. */
  readonly baselineFall: number;
  readonly attempt: number;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

function judge(m: Measured): GrowthCheckResult {
  const baseline = fitLine(m.baselinePoints);
  const fit = fitLine(m.points);
  // The doctor's verdict (cli/doctor/leak-verdict.ts), on the same two lines.
  const judgedKeys = m.distinct - m.warmup;
  const judgement = judgeLeak(fit, baseline, judgedKeys, m.memory.afterFullGc);
  const { excess, t, growth, baselineSlope } = judgement;
  const endBytes = m.points.at(-1)?.[1] ?? m.warmEnd;
  const evidence =
    `${formatBytes(fit.slope)} per distinct key over the last ${judgedKeys} of ${m.distinct} distinct keys to ${m.route} against ` +
    `${formatBytes(baselineSlope)} per repeated one (${formatBytes(growth)} more in all, t=${round1(t)}); the first ${m.warmup} distinct keys ` +
    `took memory from ${formatBytes(m.startBytes)} to ${formatBytes(m.warmEnd)}; ${m.memory.source}; ${m.okAnswers}/${m.requests} answered 2xx/3xx`;
  let verdict: CheckVerdict;
  let message: string;
  if (m.okAnswers < m.requests / 2) {
    verdict = 'SKIP';
    message = `most requests failed, so the check did not run: ${evidence}. Check the route: it must answer 2xx or 3xx.`;
  } else if (disturbed(m)) {
    verdict = 'SKIP';
    message = `memory fell by ${formatBytes(m.largestFall)} between two readings in each of ${m.attempt} runs, so something else in this process released memory while the route was measured: ${evidence}. Run the check in a test file of its own, or close earlier apps first.`;
  } else if (judgement.verdict === 'FAIL') {
    verdict = 'FAIL';
    message = `grows after the warm-up: ${evidence}. Fix: ${FIX}.`;
  } else if (judgement.verdict === 'WARN') {
    verdict = 'WARN';
    message = `may grow slowly: ${evidence}. Run longer (more requests) to tell.`;
  } else {
    verdict = 'PASS';
    message = `plateaued: ${evidence}. A bound above ${m.warmup} keys would not show here: raise warmupKeys.`;
  }
  return {
    verdict, ok: verdict === 'PASS', message, requests: m.requests, distinctKeys: m.distinct, warmupKeys: m.warmup, judgedKeys, okAnswers: m.okAnswers,
    bytesPerKey: round1(fit.slope), baselineBytesPerRequest: round1(baseline.slope), excessBytesPerKey: round1(excess), excessT: round1(t),
    judgedGrowthBytes: Math.round(growth), warmupGrowthBytes: m.warmEnd - m.startBytes, startBytes: m.startBytes, endBytes,
    largestFallBytes: m.largestFall, attempts: m.attempt, source: m.memory.source,
  };
}

/**
 * `checkGrowth`, failing the test on FAIL and on SKIP (a check that could not run proves nothing),
 * and on WARN too with `failOn: 'WARN'`.
 */
export async function assertNoGrowth(options: GrowthCheckOptions & { readonly failOn?: 'FAIL' | 'WARN' }): Promise<GrowthCheckResult> {
  const result = await checkGrowth(options);
  const failing = result.verdict === 'FAIL' || result.verdict === 'SKIP' || (result.verdict === 'WARN' && options.failOn === 'WARN');
  if (failing) throw new AssertionError({ message: `growth check ${result.verdict}: ${result.message}`, actual: result.excessBytesPerKey, expected: 0, operator: 'checkGrowth' });
  return result;
}
