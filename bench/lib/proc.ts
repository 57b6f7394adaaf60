/**
 * Watching a process from outside through Linux /proc: CPU time (utime + stime, in clock ticks,
 * proc(5)) and resident memory, and CPU pinning with taskset(1). /proc/<pid>/stat counts all of a
 * process's threads, which matters for wrk and for Node (libuv and GC threads).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Pinning } from './types.ts';

export interface ProcSample {
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
  readonly rssBytes: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain
 * spaces and parentheses, so fields are counted from the last ')'. Pure.
 */
export function parseProcStat(text: string, pageSize = 4096): ProcSample | undefined {
  const end = text.lastIndexOf(')');
  if (end === -1) return undefined;
  // After ')' the fields start at 3 (state); utime is 14, stime 15, rss (pages) 24.
  const fields = text.slice(end + 2).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(rssPages)) return undefined;
  return { cpuTicks: utime + stime, rssBytes: rssPages * pageSize };
}

let ticksPerSec: number | undefined;
let pageSize: number | undefined;

/** `getconf CLK_TCK` (almost always 100 on Linux), read once. */
export function clockTicksPerSec(): number {
  ticksPerSec ??= getconf('CLK_TCK', 100);
  return ticksPerSec;
}

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000 }).trim());
    return Number.isInteger(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/** One reading; undefined once the process is gone (or off Linux). */
export function readProc(pid: number): ProcSample | undefined {
  pageSize ??= getconf('PAGESIZE', 4096);
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), pageSize);
  } catch {
    return undefined;
  }
}

export interface ProcUsage {
  /** Average share of one core over the sampled wall time: 1 = one core fully busy. NaN if unreadable. */
  readonly cpu: number;
  readonly wallMs: number;
  readonly peakRssBytes: number;
  readonly lastRssBytes: number;
}

export interface ProcSampler {
  /** Stops sampling (one last reading first) and returns the usage since the sampler started. */
  stop(): ProcUsage;
}

/**
 * Samples a process every `intervalMs` (with `tree`, the process and all its descendants: a
 * supervisor and its workers). Polling, not a reading at exit, because /proc/<pid> goes away as soon
 * as libuv reaps a child: the CPU share is computed over the span actually observed, so the final,
 * unobserved fraction of an interval does not bias it. In a tree, each process counts from the first
 * sample that saw it to the last one; a worker that exits between samples loses its last interval.
 */
export function sampleProcess(pid: number, intervalMs = 200, tree = false): ProcSampler {
  const startedAt = performance.now();
  let lastAt = startedAt;
  let peakRss = 0;
  let lastRss = 0;
  let seenRoot = false;
  /** Per pid: CPU ticks at its first and at its latest sample. */
  const ticks = new Map<number, { first: number; last: number }>();
  const read = (): void => {
    let rss = 0;
    let any = false;
    for (const p of tree ? [pid, ...descendants(pid)] : [pid]) {
      const sample = readProc(p);
      if (sample === undefined) continue;
      any = true;
      if (p === pid) seenRoot = true;
      rss += sample.rssBytes;
      const seen = ticks.get(p);
      if (seen === undefined) ticks.set(p, { first: sample.cpuTicks, last: sample.cpuTicks });
      else seen.last = sample.cpuTicks;
    }
    if (!any) return;
    lastAt = performance.now();
    lastRss = rss;
    peakRss = Math.max(peakRss, rss);
  };
  read();
  const timer = setInterval(read, intervalMs);
  // Intentionally unref'd: a forgotten sampler must never keep the harness alive.
  timer.unref();
  return {
    stop(): ProcUsage {
      clearInterval(timer);
      read();
      const wallMs = lastAt - startedAt;
      let used = 0;
      for (const t of ticks.values()) used += t.last - t.first;
      const cpu = !seenRoot || wallMs <= 0 ? Number.NaN : used / clockTicksPerSec() / (wallMs / 1000);
      return { cpu, wallMs, peakRssBytes: peakRss, lastRssBytes: lastRss };
    },
  };
}

/**
 * Server on one core, load generator on the other, so they do not steal each other's cycles. Other
 * processes on the machine still can: numbers are only comparable within one run.
 */
export function detectPinning(serverCpu = 0, loadCpu = 1): Pinning {
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
  const enough = availableParallelism() > Math.max(serverCpu, loadCpu);
  return { taskset: enough ? taskset : undefined, serverCpu, loadCpu };
}

/** `[file, args]` that run `command` pinned to `cpu` (taskset execs it, so the pid is the command's). */
export function pinned(pinning: Pinning, cpu: number, command: string, args: readonly string[]): [string, string[]] {
  return pinning.taskset === undefined ? [command, [...args]] : [pinning.taskset, ['-c', String(cpu), command, ...args]];
}

export interface ChildRun {
  readonly stdout: string;
  /** The last 16 KiB of stderr (enough for an error message, bounded for a chatty child). */
  readonly stderr: string;
  readonly code: number | null;
  /** The child's average share of one core over its life (1 = a full core). */
  readonly cpu: number;
}

/**
 * Runs a load generator to completion while sampling its CPU. Bounded: a child still running after
 * `timeoutMs` is killed by its pid, and the run then ends with whatever it printed.
 */
export function runSampledChild(file: string, args: readonly string[], timeoutMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) {
      child.once('error', reject);
      return;
    }
    const pid = child.pid;
    const sampler = sampleProcess(pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-16_384)));
    const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      sampler.stop();
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, cpu: sampler.stop().cpu });
    });
  });
}

/** The pid's children, grandchildren and so on, from /proc/<pid>/task/<pid>/children (Linux). */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number): void => {
    let text = '';
    try {
      text = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8');
    } catch {
      return;
    }
    for (const child of text.trim().split(/\s+/).filter((s) => s !== '').map(Number)) {
      out.push(child);
      visit(child);
    }
  };
  visit(pid);
  return out;
}

/** A process's resident memory plus that of all its descendants (a supervisor and its workers). */
export function treeRssBytes(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => sum + (readProc(p)?.rssBytes ?? 0), 0);
}
