/**
 * `node bench/profile.ts <file.cpuprofile> [--top N]`: the functions with the most self time in a V8
 * CPU profile (written by `node bench/run.ts --cpu-prof`), grouped by function and location, then the
 * same time grouped by area (vial's src/ files, packages, Node internals), so a regression in the hot
 * path can be named without opening DevTools. Shares are of busy time: `(idle)` is left out because
 * on a shared machine it measures the neighbours, not the server.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, num } from './lib/table.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

/** Self time per function (sum of the sample intervals that landed in it), largest first. Pure. */
export function selfTimes(profile: CpuProfile, root = process.cwd()): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, { name: string; where: string; us: number }>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    // V8 records the delta before each sample; it is the best estimate of that sample's duration.
    const us = Math.max(0, profile.timeDeltas[i] ?? 0);
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined || frame.functionName === '(idle)') return;
    all += us;
    const file = frame.url.startsWith('file://') ? relative(root, fileURLToPath(frame.url)) : frame.url;
    const where = file === '' ? '' : `${file}:${frame.lineNumber + 1}`;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${name}\0${where}`;
    const entry = totals.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    totals.set(key, entry);
  });
  return [...totals.values()]
    .map((t) => ({ name: t.name, where: t.where, selfMs: t.us / 1000, share: all === 0 ? 0 : t.us / all }))
    .toSorted((a, b) => b.selfMs - a.selfMs);
}

/** `src/dispatch.ts`, `fastify` (a package), `node:internal`, or the V8 pseudo-frame itself. Pure. */
export function area(where: string, name: string): string {
  if (where === '') return name.startsWith('(') ? name : '(native)';
  const file = where.slice(0, where.lastIndexOf(':'));
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg !== null) return pkg[1] as string;
  if (file.startsWith('node:')) return 'node:internal';
  return file;
}

function byArea(rows: readonly SelfTime[]): SelfTime[] {
  const totals = new Map<string, SelfTime>();
  for (const r of rows) {
    const key = area(r.where, r.name);
    const t = totals.get(key);
    totals.set(key, { name: key, where: '', selfMs: (t?.selfMs ?? 0) + r.selfMs, share: (t?.share ?? 0) + r.share });
  }
  return [...totals.values()].toSorted((a, b) => b.selfMs - a.selfMs);
}

if (import.meta.main ?? process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, flag, n] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write('usage: node bench/profile.ts <file.cpuprofile> [--top N]\n');
    process.exitCode = 2;
  } else {
    const top = flag === '--top' && n !== undefined ? Number(n) : 25;
    const all = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    const rows = all.slice(0, top);
    const columns = [
      { title: 'self %', value: (r: SelfTime) => `${(r.share * 100).toFixed(1)}%`, align: 'right' as const },
      { title: 'self ms', value: (r: SelfTime) => num(r.selfMs), align: 'right' as const },
      { title: 'function', value: (r: SelfTime) => r.name, align: 'left' as const },
      { title: 'where', value: (r: SelfTime) => r.where, align: 'left' as const },
    ];
    // `| head` closes the pipe early; that is the reader's choice, not an error worth a stack trace.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
    const text = [...formatTable(columns, rows), '', ...formatTable(columns.slice(0, 3), byArea(all).slice(0, top))].join('\n');
    process.stdout.write(`${text}\n`);
  }
}
