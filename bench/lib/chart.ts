/**
 * A bar chart of one bench run as SVG, drawn from the run's JSON results (bench/results/*.json), so
 * the README's figure is what the bench measured, never drawn by hand. Pure: results in, text out.
 *
 * Each system is a bar of requests per CPU-second (the figure that holds still on a shared machine:
 * see summary.ts), labelled with req/s, p99 and its ratio to a reference system (by default the first
 * raw node:http row that sends the same headers, the platform's limit for those bytes).
 */

/** The part of a results file the chart reads (run.ts writes it). */
export interface ChartResults {
  readonly scenario: string;
  readonly description?: string;
  readonly startedAt: string;
  readonly machine?: { readonly node?: string; readonly cpus?: number; readonly loadavgBefore?: readonly number[] };
  readonly config?: { readonly rounds?: number; readonly durationSec?: number; readonly connections?: number };
  readonly checks?: readonly { readonly label: string; readonly pass: boolean; readonly detail: string }[];
  readonly data: { readonly summaries: readonly ChartRow[] };
}

export interface ChartRow {
  readonly system: string;
  readonly rps: number;
  readonly rpsPerCpu: number;
  readonly p99Ms: number;
  /** Failed requests over all runs: a row with errors did other work than the rest, so it is flagged. */
  readonly errors?: number;
}

export interface ChartOptions {
  /** The system every ratio is to. Default: `node:http+headers` when present, else the fastest. */
  readonly reference?: string;
}

const WIDTH = 860;
const LABEL_WIDTH = 170;
const VALUE_WIDTH = 320;
const ROW = 26;
const TOP = 58;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

const thousands = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Picks the reference row: the named one, else node:http+headers, else the highest req/cpu-s. */
export function referenceRow(rows: readonly ChartRow[], name?: string): ChartRow {
  if (rows.length === 0) throw new Error('bench chart: the results hold no systems (data.summaries is empty); run a standard scenario first.');
  if (name !== undefined) {
    const named = rows.find((r) => r.system === name);
    if (named === undefined) throw new Error(`bench chart: no system "${name}" in these results; they have ${rows.map((r) => `"${r.system}"`).join(', ')}.`);
    return named;
  }
  return rows.find((r) => r.system === 'node:http+headers') ?? rows.reduce((best, r) => (r.rpsPerCpu > best.rpsPerCpu ? r : best));
}

export function renderChart(results: ChartResults, options: ChartOptions = {}): string {
  const rows = results.data.summaries;
  const reference = referenceRow(rows, options.reference);
  const max = Math.max(...rows.map((r) => r.rpsPerCpu), 1);
  const barSpace = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20;
  const checks = results.checks ?? [];
  const height = TOP + rows.length * ROW + 46 + checks.length * 16;
  const refX = LABEL_WIDTH + (reference.rpsPerCpu / max) * barSpace;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="600">${escapeXml(`${results.scenario}: requests per CPU-second`)}</text>`,
    `<text x="10" y="40" fill="#555">${escapeXml(`ratio to ${reference.system} (the dashed line); longer is better`)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = TOP + i * ROW;
    const width = Math.max(1, (row.rpsPerCpu / max) * barSpace);
    const isVial = row.system.startsWith('vial');
    const ratio = reference.rpsPerCpu > 0 ? row.rpsPerCpu / reference.rpsPerCpu : 0;
    out.push(
      `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" text-anchor="end">${escapeXml(row.system)}</text>`,
      `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${width.toFixed(1)}" height="${ROW - 8}" fill="${isVial ? '#2f6fb3' : '#9aa5b1'}"/>`,
      // In a column of their own, right of the longest bar, so neither a bar nor the dashed line crosses them.
      `<text x="${LABEL_WIDTH + barSpace + 12}" y="${y + 15}">${escapeXml(`${ratio.toFixed(2)}x  ${thousands(row.rpsPerCpu)}/cpu-s  ${thousands(row.rps)} req/s  p99 ${row.p99Ms.toFixed(1)} ms`)}${(row.errors ?? 0) > 0 ? `<tspan fill="#b03a2e">${escapeXml(`  ${thousands(row.errors ?? 0)} errors`)}</tspan>` : ''}</text>`,
    );
  });
  const bottom = TOP + rows.length * ROW;
  out.push(`<line x1="${refX.toFixed(1)}" y1="${TOP - 4}" x2="${refX.toFixed(1)}" y2="${bottom}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
  const c = results.config ?? {};
  const m = results.machine ?? {};
  const load = m.loadavgBefore?.[0];
  const footer = [
    `${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    m.node === undefined ? undefined : `Node ${m.node}`,
    m.cpus === undefined ? undefined : `${m.cpus} cores`,
    c.rounds === undefined ? undefined : `${c.rounds} rounds x ${c.durationSec ?? '?'} s`,
    c.connections === undefined ? undefined : `${c.connections} connections`,
    load === undefined ? undefined : `load average ${load.toFixed(2)}`,
  ].filter((part) => part !== undefined);
  out.push(`<text x="10" y="${bottom + 22}" fill="#555">${escapeXml(footer.join(', '))}</text>`);
  checks.forEach((check, i) => {
    out.push(`<text x="10" y="${bottom + 40 + i * 16}" fill="${check.pass ? '#1e7b34' : '#b03a2e'}">${escapeXml(`${check.pass ? 'PASS' : 'FAIL'}  ${check.label}: ${check.detail}`)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
