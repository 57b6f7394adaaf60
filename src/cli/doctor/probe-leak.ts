/**
 * Leak: send requests with distinct keys and watch the server's memory (issue 14, classes 1-3).
 * A cache keyed by request data and never evicted grows by about one value per distinct key,
 * forever; a bounded one grows until its bound and then levels off. So the run has three parts:
 * a short settle with repeated keys (JIT, pools and buffers), a warm-up of distinct keys past any
 * likely bound (it fills a bounded cache: that growth is the plateau, reported, never judged), a
 * baseline of repeated keys (what any request adds: allocator creep, logs), and the judged part:
 * more distinct keys, memory sampled often, a line fitted through those samples only. The verdict
 * is the growth per distinct key beyond the baseline's per request, weighed against the noise of
 * the fit, not a fixed number of megabytes.
 *
 * Memory comes from one source for the whole run (never switching mid-way): /proc/<pid>/status
 * (VmRSS of the process and its direct children, so gunicorn's workers count), or the admin
 * surface: heap used right after a full GC when it offers `POST /memory/gc` (vial's admin listener
 * does), else the first of RSS and heap used that its /metrics carries.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { makeAgent, send } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import { judgeLeak } from './leak-verdict.ts';
import { fitLine, formatBytes, pool } from './stats.ts';

const JUDGED_SAMPLES = 12;
const BASELINE_SAMPLES = 8;
const SETTLE_SHARE = 0.05;
/** Of what follows the warm-up: this share repeats keys, to measure the growth any request causes. */
const BASELINE_SHARE = 0.25;
const CONTROL_KEYS = 20;

type Reader = () => Promise<number | undefined>;

async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(entry));
  }
  return out;
}

const METRICS = ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes'] as const;

function metricValue(body: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([\\d.e+]+)`, 'm').exec(body);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface MemorySource {
  readonly reader: Reader;
  readonly source: string;
  /** Live objects only (heap right after a full GC): no allocator creep in the readings. */
  readonly exact: boolean;
}

/** Picks the run's one memory source; undefined when none was given or none answers. */
export async function memorySource(options: DoctorOptions): Promise<MemorySource | undefined> {
  const { pid, admin } = options;
  if (pid !== undefined) {
    return {
      source: `RSS of pid ${pid} and its children`,
      exact: false,
      reader: async () => {
        const own = await rssOf(pid);
        if (own === undefined) return undefined;
        let total = own;
        for (const child of await childrenOf(pid)) total += (await rssOf(child)) ?? 0;
        return total;
      },
    };
  }
  if (admin === undefined) return undefined;
  const gcUrl = new URL('/memory/gc', admin);
  const gc = async (): Promise<number | undefined> => {
    const answer = await send(gcUrl, gcUrl.pathname, { method: 'POST', timeoutMs: options.timeoutMs });
    if (answer.status !== 200) return undefined;
    try {
      const bytes = (JSON.parse(answer.body) as { heapUsedBytes?: unknown }).heapUsedBytes;
      return typeof bytes === 'number' ? bytes : undefined;
    } catch {
      return undefined;
    }
  };
  if ((await gc()) !== undefined) return { source: `heap used after a full GC (POST ${gcUrl.href})`, exact: true, reader: gc };
  const metrics = new URL('/metrics', admin);
  const scrape = async (): Promise<string> => (await send(metrics, metrics.pathname, { timeoutMs: options.timeoutMs, maxBytes: 4 * 1024 * 1024 })).body;
  const first = await scrape();
  // Intentionally not vial_heap_used_after_gc_bytes: it only moves after a major GC, which a short
  // run may never see, and then an unbounded Map reads as flat.
  const name = METRICS.find((m) => metricValue(first, m) !== undefined);
  if (name === undefined) return undefined;
  return { source: `${name} from ${metrics.href}`, exact: false, reader: async () => metricValue(await scrape(), name) };
}

export async function probeLeak(options: DoctorOptions, findings: Finding[], progress: (text: string, share?: number) => void): Promise<void> {
  const template = options.leak;
  if (template === undefined) return;
  const probe = `leak ${template.split('?')[0] ?? template}`;
  const fix = 'bound every cache keyed by request data (vial: BoundedCache with maxEntries/ttlMs; Python: cachetools.LRUCache/TTLCache or functools.lru_cache(maxsize=...)) or keep it in Redis with a TTL';
  const base = { check: 'leak', class: 'leak', probe, fix } as const;
  const memory = await memorySource(options);
  if (memory === undefined) {
    findings.push({ ...base, verdict: 'SKIP', evidence: options.pid === undefined && options.admin === undefined ? 'no memory source: add --pid PID (the server process) or --admin URL (vial\'s admin listener or a Prometheus /metrics endpoint)' : 'the --admin URL offers neither POST /memory/gc nor RSS or heap metrics' });
    return;
  }
  const first = await memory.reader();
  if (first === undefined) {
    findings.push({ ...base, verdict: 'SKIP', evidence: `cannot read memory (${memory.source})` });
    return;
  }
  const run = randomBytes(4).toString('hex');
  const agent = makeAgent(options.target, 16);
  const statuses = new Map<number, number>();
  // settle (repeated keys) | warm-up (distinct keys past any likely bound) | baseline (repeated
  // keys again, sampled: the growth any request causes) | judged (distinct keys, sampled).
  const settle = Math.min(500, Math.floor(options.requests * SETTLE_SHARE));
  const warmup = options.warmupKeys;
  const baselineCount = Math.floor((options.requests - settle - warmup) * BASELINE_SHARE);
  const judged = options.requests - settle - warmup - baselineCount;
  let distinct = 0;
  let repeated = 0;
  const sendBatch = async (count: number, unique: boolean): Promise<void> => {
    await pool(count, 16, async () => {
      const value = unique ? `${run}-${distinct++}` : `${run}-c${repeated++ % CONTROL_KEYS}`;
      const answer = await send(options.target, template.replaceAll('{n}', value), { agent, timeoutMs: options.timeoutMs, maxBytes: 1024 });
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    });
  };
  /** Sends `count` requests in `samples` batches, reading memory after each: [requests so far in the phase, bytes]. */
  const sampled = async (count: number, samples: number, unique: boolean, share: number): Promise<[number, number][]> => {
    const points: [number, number][] = [];
    const start = await memory.reader();
    if (start !== undefined) points.push([0, start]);
    const batch = Math.max(1, Math.floor(count / samples));
    for (let i = 0; i < samples; i++) {
      progress(`leak: ${distinct} distinct keys sent`, share + ((i + 1) / samples) * (count / options.requests));
      await sendBatch(batch, unique);
      const bytes = await memory.reader();
      if (bytes !== undefined) points.push([(i + 1) * batch, bytes]);
    }
    return points;
  };
  let warmStart = first;
  let warmEnd = first;
  let baselinePoints: [number, number][] = [];
  let points: [number, number][] = [];
  try {
    await sendBatch(settle, false);
    warmStart = (await memory.reader()) ?? first;
    progress(`leak: warming up with ${warmup} distinct keys`, settle / options.requests);
    for (let sent = 0; sent < warmup; sent += 1000) await sendBatch(Math.min(1000, warmup - sent), true);
    warmEnd = (await memory.reader()) ?? warmStart;
    baselinePoints = await sampled(baselineCount, BASELINE_SAMPLES, false, (settle + warmup) / options.requests);
    points = await sampled(judged, JUDGED_SAMPLES, true, (settle + warmup + baselineCount) / options.requests);
  } finally {
    agent.destroy();
  }
  const baseline = fitLine(baselinePoints);
  const fit = fitLine(points);
  // What distinct keys add beyond what any request adds, and how clearly (leak-verdict.ts).
  const judgedKeys = distinct - warmup;
  const { verdict, excess, t, growth, baselineSlope } = judgeLeak(fit, baseline, judgedKeys, memory.exact);
  const sent = distinct + repeated;
  const ok = [...statuses].filter(([s]) => s >= 200 && s < 400).reduce((sum, [, c]) => sum + c, 0);
  const data = {
    requests: sent, distinctKeys: distinct, warmupKeys: warmup, judgedKeys, okAnswers: ok,
    bytesPerRequest: Math.round(fit.slope * 10) / 10, baselineBytesPerRequest: Math.round(baseline.slope * 10) / 10, excessBytesPerRequest: Math.round(excess * 10) / 10,
    slopeT: Math.round(fit.t * 10) / 10, excessT: Math.round(t * 10) / 10, judgedGrowthBytes: Math.round(growth),
    plateauBytes: warmEnd, warmupGrowthBytes: warmEnd - warmStart, startBytes: first, endBytes: points.at(-1)?.[1] ?? warmEnd, source: memory.source,
  };
  const plateau = `the first ${warmup} distinct keys took memory from ${formatBytes(warmStart)} to ${formatBytes(warmEnd)}`;
  const evidence = `${formatBytes(fit.slope)} per distinct key over the last ${judgedKeys} of ${distinct} distinct keys against ${formatBytes(baselineSlope)} per repeated one (${formatBytes(growth)} more in all, t=${data.excessT}); ${plateau}; ${memory.source}; ${ok}/${sent} answered 2xx/3xx`;
  if (ok < sent / 2) {
    findings.push({ ...base, verdict: 'SKIP', evidence: `most requests failed, so the check did not run (${[...statuses].map(([s, c]) => `${s || 'error'}: ${c}`).join(', ')}); ${evidence}`, fix: 'check the --leak template', data });
  } else if (verdict === 'FAIL') {
    findings.push({ ...base, verdict: 'FAIL', evidence: `grows after the warm-up: ${evidence}`, data });
  } else if (verdict === 'WARN') {
    findings.push({ ...base, verdict: 'WARN', evidence: `may grow slowly: ${evidence}; run longer (--requests) to tell`, data });
  } else {
    findings.push({ ...base, verdict: 'PASS', evidence: `plateaued: ${evidence}. A bound above ${warmup} keys per process would not show here: raise --warmup-keys`, data });
  }
}
