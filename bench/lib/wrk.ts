/**
 * wrk's side of the harness: the Lua script that sets up the request and reports exact numbers, and
 * the parser for wrk's output. Pure.
 *
 * The script's `done()` prints one `VIAL_BENCH {json}` line with wrk's own HdrHistogram percentiles
 * in microseconds, so nothing is lost to wrk's rounded text ("2.10ms"). The text parser remains for
 * output captured without the script (and is what a human reads with `--latency`).
 */
import type { LoadSpec } from './types.ts';

export interface LoadErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
  /** Responses outside 2xx/3xx. */
  readonly status: number;
}

export interface LatencyMs {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface ParsedLoad {
  readonly requests: number;
  readonly durationSec: number;
  readonly rps: number;
  readonly latencyMs: LatencyMs;
  readonly errors: LoadErrors;
}

/** A Lua string literal: printable ASCII as is, every other byte as a decimal escape (Lua 5.1/LuaJIT safe). */
export function luaString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += printable ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`;
  }
  return `${out}"`;
}

export const RESULT_MARKER = 'VIAL_BENCH ';

export function buildWrkScript(load: LoadSpec): string {
  const lines = [`wrk.method = ${luaString(load.method ?? 'GET')}`];
  if (load.body !== undefined) lines.push(`wrk.body = ${luaString(load.body)}`);
  for (const [name, value] of Object.entries(load.headers ?? {})) lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  if (load.wrkScript !== undefined) lines.push(load.wrkScript);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format('${RESULT_MARKER}{"requests":%.0f,"durationUs":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,' ..`,
    `    '"meanUs":%.3f,"p50Us":%.0f,"p90Us":%.0f,"p99Us":%.0f,"maxUs":%.0f}\\n',`,
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))',
    'end',
  );
  return `${lines.join('\n')}\n`;
}

/** Reads the script's result line if present, otherwise wrk's text output. Undefined if neither is there. */
export function parseWrkOutput(stdout: string): ParsedLoad | undefined {
  return parseResultLine(stdout) ?? parseWrkText(stdout);
}

function parseResultLine(stdout: string): ParsedLoad | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (line === undefined) return undefined;
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line.slice(RESULT_MARKER.length)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const n = (key: string): number => (typeof r[key] === 'number' ? r[key] : Number.NaN);
  const durationSec = n('durationUs') / 1e6;
  return {
    requests: n('requests'),
    durationSec,
    rps: n('requests') / durationSec,
    latencyMs: { mean: n('meanUs') / 1000, p50: n('p50Us') / 1000, p90: n('p90Us') / 1000, p99: n('p99Us') / 1000, max: n('maxUs') / 1000 },
    errors: { connect: n('connect'), read: n('read'), write: n('write'), timeout: n('timeout'), status: n('status') },
  };
}

const TIME_UNITS_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "66.00us" -> 0.066, "2.10ms" -> 2.1, "1.10s" -> 1100 (wrk's format_time_us units). */
export function parseWrkTime(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (match === null) return Number.NaN;
  return Number(match[1]) * (TIME_UNITS_MS[match[2] as string] as number);
}

export function parseWrkText(stdout: string): ParsedLoad | undefined {
  const done = /(\d+) requests in ([\d.]+\w+),/.exec(stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (done === null || rps === null) return undefined;
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(stdout);
    return m === null ? Number.NaN : parseWrkTime(m[1] as string);
  };
  const stats = /^\s+Latency\s+(\S+)\s+\S+\s+(\S+)/m.exec(stdout);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  return {
    requests: Number(done[1]),
    durationSec: parseWrkTime(done[2] as string) / 1000,
    rps: Number(rps[1]),
    latencyMs: {
      mean: stats === null ? Number.NaN : parseWrkTime(stats[1] as string),
      p50: pct('50'),
      p90: pct('90'),
      p99: pct('99'),
      max: stats === null ? Number.NaN : parseWrkTime(stats[2] as string),
    },
    errors: {
      connect: Number(socket?.[1] ?? 0),
      read: Number(socket?.[2] ?? 0),
      write: Number(socket?.[3] ?? 0),
      timeout: Number(socket?.[4] ?? 0),
      status: Number(non2xx?.[1] ?? 0),
    },
  };
}

/** autocannon's `--json` result (latencies are whole milliseconds there: coarser than wrk's). */
export function parseAutocannonJson(stdout: string): ParsedLoad | undefined {
  let r: {
    duration?: number;
    errors?: number;
    timeouts?: number;
    non2xx?: number;
    latency?: { mean?: number; p50?: number; p90?: number; p99?: number; max?: number };
    requests?: { total?: number };
  };
  try {
    r = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as typeof r;
  } catch {
    return undefined;
  }
  const requests = r.requests?.total;
  const durationSec = r.duration;
  if (requests === undefined || durationSec === undefined) return undefined;
  const l = r.latency ?? {};
  return {
    requests,
    durationSec,
    rps: requests / durationSec,
    latencyMs: { mean: l.mean ?? Number.NaN, p50: l.p50 ?? Number.NaN, p90: l.p90 ?? Number.NaN, p99: l.p99 ?? Number.NaN, max: l.max ?? Number.NaN },
    // autocannon folds connect/read/write failures into one count.
    errors: { connect: r.errors ?? 0, read: 0, write: 0, timeout: r.timeouts ?? 0, status: r.non2xx ?? 0 },
  };
}
