/**
 * Findings and how they are shown: a table for people, JSON for CI, a progress line on a TTY.
 * Pure except for `Progress`, which writes to stderr.
 */

export type Verdict = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';
/** The five failure classes of DESIGN.md; exhaustion covers pool exhaustion and weak async alike. */
export type FailureClass = 'security' | 'exhaustion' | 'leak' | 'race';

export interface Finding {
  readonly class: FailureClass;
  readonly probe: string;
  readonly verdict: Verdict;
  readonly evidence: string;
  readonly fix: string;
  /** Numbers behind the verdict (latencies, slopes, counts), for machines. */
  readonly data?: Readonly<Record<string, number | string | boolean | null>>;
}

export interface Report {
  readonly target: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly findings: readonly Finding[];
  readonly summary: Readonly<Record<Verdict, number>>;
}

export function summarize(findings: readonly Finding[]): Record<Verdict, number> {
  const summary: Record<Verdict, number> = { PASS: 0, WARN: 0, FAIL: 0, SKIP: 0 };
  for (const f of findings) summary[f.verdict] += 1;
  return summary;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.replace(/\s+/g, ' ').trim().split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = '';
    }
    line = line === '' ? word : `${line} ${word}`;
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  if (line !== '') lines.push(line);
  return lines.length === 0 ? [''] : lines;
}

const COLUMNS: readonly { title: string; width: number; pick: (f: Finding) => string }[] = [
  { title: 'class', width: 10, pick: (f) => f.class },
  { title: 'probe', width: 20, pick: (f) => f.probe },
  { title: 'verdict', width: 7, pick: (f) => f.verdict },
  { title: 'evidence', width: 46, pick: (f) => f.evidence },
  { title: 'fix', width: 40, pick: (f) => (f.verdict === 'PASS' || f.verdict === 'SKIP' ? '' : f.fix) },
];

/** A fixed-width table; long cells wrap inside their column so it stays readable in a terminal. */
export function formatTable(report: Report): string {
  const rule = COLUMNS.map((c) => '-'.repeat(c.width)).join('-+-');
  const row = (cells: string[][]): string[] => {
    const height = Math.max(...cells.map((c) => c.length));
    const out: string[] = [];
    for (let i = 0; i < height; i++) out.push(COLUMNS.map((c, j) => (cells[j]?.[i] ?? '').padEnd(c.width)).join(' | ').trimEnd());
    return out;
  };
  const lines = [`vial doctor: ${report.target}`, '', ...row(COLUMNS.map((c) => [c.title])), rule];
  for (const finding of report.findings) {
    lines.push(...row(COLUMNS.map((c) => wrap(c.pick(finding), c.width))));
    lines.push(rule);
  }
  const s = report.summary;
  lines.push(`${s.FAIL} FAIL, ${s.WARN} WARN, ${s.PASS} PASS, ${s.SKIP} SKIP in ${(report.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

/** One overwritten status line on stderr, only when a person is watching. */
export class Progress {
  readonly #enabled: boolean;

  constructor(quiet: boolean) {
    this.#enabled = !quiet && process.stderr.isTTY && process.env['CI'] === undefined;
  }

  update(text: string): void {
    if (this.#enabled) process.stderr.write(`\r\x1b[2Kvial doctor: ${text}`);
  }

  done(): void {
    if (this.#enabled) process.stderr.write('\r\x1b[2K');
  }
}
