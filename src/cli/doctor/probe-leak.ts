/**
 * Leak: send requests with unique values and watch the server's memory. A cache keyed by request
 * data and never evicted grows linearly with the number of distinct values; a bounded one levels
 * off. Memory comes from /proc/<pid>/status (the process and its direct children, so gunicorn's
 * workers count) or from a Prometheus /metrics endpoint (vial's admin listener).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { makeAgent, send } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import { formatBytes, pool, slope } from './stats.ts';

const SAMPLES = 15;
const WARMUP_SHARE = 0.3;
const CONTROL_KEYS = 20;
/** Per 1,000 unique values: above FAIL_SLOPE with FAIL_GROWTH in total is a leak; WARN_* a suspicion. */
const FAIL_SLOPE = 64 * 1024;
const FAIL_GROWTH = 2 * 1024 * 1024;
const WARN_SLOPE = 16 * 1024;
const WARN_GROWTH = 1024 * 1024;

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

export function memoryReader(options: DoctorOptions): { reader: Reader; source: string } | undefined {
  const { pid, admin } = options;
  if (pid !== undefined) {
    return {
      source: `RSS of pid ${pid} and its children`,
      reader: async () => {
        const own = await rssOf(pid);
        if (own === undefined) return undefined;
        let total = own;
        for (const child of await childrenOf(pid)) total += (await rssOf(child)) ?? 0;
        return total;
      },
    };
  }
  if (admin !== undefined) {
    const metrics = new URL('/metrics', admin);
    return {
      source: `vial_heap_used_after_gc_bytes (else process_resident_memory_bytes) from ${metrics.href}`,
      reader: async () => {
        const answer = await send(metrics, metrics.pathname, { timeoutMs: options.timeoutMs, maxBytes: 4 * 1024 * 1024 });
        // vial's heap-after-GC floor first (retention only), then RSS, then plain heap used.
        const floor = /^vial_heap_used_after_gc_bytes(?:\{[^}]*\})?\s+([\d.e+]+)/m.exec(answer.body);
        const match = (floor !== null && Number(floor[1]) > 0 ? floor : null) ??
          /^process_resident_memory_bytes(?:\{[^}]*\})?\s+([\d.e+]+)/m.exec(answer.body) ??
          /^nodejs_heap_size_used_bytes(?:\{[^}]*\})?\s+([\d.e+]+)/m.exec(answer.body);
        return match?.[1] === undefined ? undefined : Number(match[1]);
      },
    };
  }
  return undefined;
}

export async function probeLeak(options: DoctorOptions, findings: Finding[], progress: (text: string) => void): Promise<void> {
  const template = options.leak;
  if (template === undefined) return;
  const probe = `leak ${template.split('?')[0] ?? template}`;
  const fix = 'bound every cache keyed by request data (vial: BoundedCache with maxEntries/ttlMs; Python: cachetools.LRUCache/TTLCache) or keep it in Redis with a TTL';
  const memory = memoryReader(options);
  if (memory === undefined) {
    findings.push({ class: 'leak', probe, verdict: 'SKIP', evidence: 'no memory source: add --pid PID (the server process) or --admin URL (a Prometheus /metrics endpoint)', fix });
    return;
  }
  const first = await memory.reader();
  if (first === undefined) {
    findings.push({ class: 'leak', probe, verdict: 'SKIP', evidence: `cannot read memory (${memory.source})`, fix });
    return;
  }
  const run = randomBytes(4).toString('hex');
  const agent = makeAgent(options.target, 16);
  const statuses = new Map<number, number>();
  // Warm-up with a few repeated values: the heap's first growth steps, JIT and connection pools
  // settle without anything new to retain. RSS lags retention (V8 grows the heap in steps), so the
  // verdict comes from the trend over the whole unique phase, not from any one batch.
  const warmup = Math.floor(options.requests * WARMUP_SHARE);
  const batch = Math.max(1, Math.floor((options.requests - warmup) / SAMPLES));
  let uniqueSent = 0;
  let controlSent = 0;
  const sendBatch = async (count: number, unique: boolean): Promise<void> => {
    await pool(count, 16, async () => {
      const value = unique ? `${run}-${uniqueSent++}` : `${run}-c${controlSent++ % CONTROL_KEYS}`;
      const answer = await send(options.target, template.replaceAll('{n}', value), { agent, timeoutMs: options.timeoutMs, maxBytes: 1024 });
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    });
  };
  const points: [number, number][] = [];
  let warmedAt = first;
  try {
    await sendBatch(warmup, false);
    warmedAt = (await memory.reader()) ?? first;
    points.push([0, warmedAt]);
    for (let i = 0; i < SAMPLES; i++) {
      progress(`leak: ${uniqueSent} unique values sent`);
      await sendBatch(batch, true);
      const bytes = await memory.reader();
      if (bytes !== undefined) points.push([uniqueSent, bytes]);
    }
  } finally {
    agent.destroy();
  }
  const perThousand = slope(points) * 1000;
  const growth = (perThousand * uniqueSent) / 1000;
  const sent = uniqueSent + controlSent;
  const ok = [...statuses].filter(([s]) => s >= 200 && s < 400).reduce((sum, [, c]) => sum + c, 0);
  const data = { requests: sent, uniqueRequests: uniqueSent, okAnswers: ok, bytesPer1000Requests: Math.round(perThousand), fittedGrowthBytes: Math.round(growth), warmupGrowthBytes: warmedAt - first, startBytes: first, endBytes: points.at(-1)?.[1] ?? warmedAt, source: memory.source };
  const evidence = `${formatBytes(perThousand)} per 1,000 unique values (${formatBytes(growth)} fitted over ${uniqueSent} unique requests after ${controlSent} repeated ones; ${memory.source}; ${ok}/${sent} answered 2xx/3xx)`;
  if (ok < sent / 2) {
    findings.push({ class: 'leak', probe, verdict: 'WARN', evidence: `most requests failed (${[...statuses].map(([s, c]) => `${s || 'error'}: ${c}`).join(', ')}); ${evidence}`, fix: 'check the --leak template', data });
  } else if (perThousand >= FAIL_SLOPE && growth >= FAIL_GROWTH) {
    findings.push({ class: 'leak', probe, verdict: 'FAIL', evidence: `grows: ${evidence}`, fix, data });
  } else if (perThousand >= WARN_SLOPE && growth >= WARN_GROWTH) {
    findings.push({ class: 'leak', probe, verdict: 'WARN', evidence: `may grow: ${evidence}; run longer (--requests) to tell`, fix, data });
  } else {
    findings.push({ class: 'leak', probe, verdict: 'PASS', evidence: `flat: ${evidence}`, fix, data });
  }
}
