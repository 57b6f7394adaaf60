/**
 * The `html` tagged template: every interpolation is escaped unless it is already SafeHtml (from
 * another `html` template or `raw()`). Arrays are joined, `null`/`undefined`/`false` render nothing.
 * Pure.
 */

export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };
const NEEDS_ESCAPE = /[&<>"'`]/g;

export function escapeHtml(text: string): string {
  return text.replace(NEEDS_ESCAPE, (ch) => ESCAPES[ch] as string);
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  // Intentionally String(): numbers, bigints and objects with their own toString() render as text.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Marks trusted markup as safe. Never pass user input here. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
