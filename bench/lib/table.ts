/** Plain-text tables for the terminal. Pure. */

export interface Column<Row> {
  readonly title: string;
  readonly value: (row: Row) => string;
  /** Numbers read best right-aligned. Default: left for the first column, right for the rest. */
  readonly align?: 'left' | 'right';
}

export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string[] {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (values: readonly string[]): string =>
    values
      .map((v, i) => {
        const width = widths[i] as number;
        const align = columns[i]?.align ?? (i === 0 ? 'left' : 'right');
        return align === 'left' ? v.padEnd(width) : v.padStart(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
}

/** Fixed decimals, or "-" for a missing value. */
export function num(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return '-';
  return decimals === 0 ? Math.round(value).toLocaleString('en-US') : value.toFixed(decimals);
}

/** A share of one core as a percentage: 0.93 -> "93%". */
export function pct(fraction: number): string {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : '-';
}

/** A ratio as "1.07x". */
export function times(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : '-';
}
