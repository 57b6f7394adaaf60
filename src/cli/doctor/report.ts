/**
 * Findings and how they are shown: a table for people, JSON for CI, a progress line on a TTY.
 * Pure except for `Progress`, which writes to stderr.
 */

export type Verdict = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';
/** The five failure classes of DESIGN.md: the table's first column. */
export type FailureClass = 'security' | 'exhaustion' | 'leak' | 'race';
/**
 * A stable id per check, apart from the probe name (which carries the route): what scripts match on
 * in `--json`. Never renamed; a new check gets a new id.
 */
export type CheckId = 'leak' | 'exhaustion' | 'async' | 'race' | 'csrf' | 'cookie' | 'secret' | 'fixation' | 'errors' | 'headers';
export const CHECK_IDS: readonly CheckId[] = ['leak', 'exhaustion', 'async', 'race', 'csrf', 'cookie', 'secret', 'fixation', 'errors', 'headers'];

export interface Finding {
  readonly check: CheckId;
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
  /** The checks that were asked for and could not run are SKIP findings, never missing ones. */
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
  { title: 'check', width: 10, pick: (f) => f.check },
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

/** A phase of the run and how long it is expected to take, for the ETA. */
export interface Phase {
  readonly name: string;
  readonly estimateMs: number;
}

/**
 * One overwritten status line on stderr with an ETA, only when a person is watching. The ETA is
 * the planned time of the phases still ahead plus what is left of the current one (its share done
 * as the probe reports it), so a bounded probe counts down instead of guessing from request rates.
 */
export class Progress {
  readonly #enabled: boolean;
  readonly #write: (text: string) => void;
  #phases: readonly Phase[] = [];
  #current = -1;
  #phaseStarted = 0;

  constructor(quiet: boolean, write?: (text: string) => void, enabled?: boolean) {
    this.#enabled = enabled ?? (!quiet && process.stderr.isTTY && process.env['CI'] === undefined);
    this.#write = write ?? ((text) => void process.stderr.write(text));
  }

  plan(phases: readonly Phase[]): void {
    this.#phases = phases;
  }

  /** Enters the named phase (one of the planned ones; unknown names only change the text). */
  phase(name: string): void {
    const index = this.#phases.findIndex((p) => p.name === name);
    if (index !== -1) {
      this.#current = index;
      this.#phaseStarted = performance.now();
    }
    this.update(name);
  }

  /** Seconds left: the rest of the current phase (by `share` done, else by its clock) and the phases after it. */
  etaSec(share?: number): number {
    const current = this.#phases[this.#current];
    let left = 0;
    if (current !== undefined) {
      const elapsed = performance.now() - this.#phaseStarted;
      const byShare = share === undefined ? current.estimateMs - elapsed : (elapsed / Math.max(share, 0.01)) * (1 - share);
      left += Math.max(0, byShare);
    }
    for (const later of this.#phases.slice(this.#current + 1)) left += later.estimateMs;
    return Math.ceil(left / 1000);
  }

  update(text: string, share?: number): void {
    if (!this.#enabled) return;
    const eta = this.#phases.length === 0 ? '' : ` (ETA ${this.etaSec(share)} s)`;
    this.#write(`\r\x1b[2Kvial doctor: ${text}${eta}`);
  }

  done(): void {
    if (this.#enabled) this.#write('\r\x1b[2K');
  }
}
