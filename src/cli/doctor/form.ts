/**
 * The page's own forms, read the way a browser would submit them: field names, a plausible value
 * for each, and the CSRF token a real page carries (a hidden field, a `<meta>` tag or a response
 * header). Probes built from the form itself cannot be mistaken for refusals: a handler that reads
 * `request.form["title"]` answers 400 to a body without it whether or not CSRF is checked (issue
 * 14, class 9). Pure: no I/O.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface FormField {
  readonly name: string;
  readonly type: string;
  readonly value: string;
}

export interface PageForm {
  readonly method: string;
  /** Resolved against the page URL: a pathname with its query. */
  readonly action: string;
  readonly fields: readonly FormField[];
}

/** Names frameworks give the anti-forgery token (Flask-WTF csrf_token, vial _csrf, Rails, Django, Laravel). */
const TOKEN_NAME = /csrf|xsrf|authenticity_token|^_token$|^__requestverificationtoken$/i;
const TOKEN_HEADERS = ['x-csrf-token', 'x-csrftoken', 'x-xsrf-token'];

export const isTokenField = (name: string): boolean => TOKEN_NAME.test(name);

function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of tag.matchAll(/([^\s=<>/"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    out.set((m[1] ?? '').toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return out;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|#39|apos);/gi, (whole, code: string) => {
    const c = code.toLowerCase();
    if (c === 'amp') return '&';
    if (c === 'lt') return '<';
    if (c === 'gt') return '>';
    if (c === 'quot') return '"';
    if (c === 'apos' || c === '#39') return "'";
    const n = c.startsWith('#x') ? Number.parseInt(c.slice(2), 16) : Number.parseInt(c.slice(1), 10);
    return Number.isFinite(n) ? String.fromCodePoint(n) : whole;
  });
}

/** A value a person might type, chosen by the field's type and name, so validation passes. */
export function plausibleValue(field: { name: string; type: string; value: string }): string {
  if (field.value !== '') return field.value;
  const name = field.name.toLowerCase();
  const type = field.type.toLowerCase();
  if (type === 'email' || name.includes('email')) return 'doctor@example.com';
  if (type === 'number' || type === 'range' || /amount|count|qty|quantity|age|number|price|id$/.test(name)) return '1';
  if (type === 'url' || name.includes('url')) return 'https://example.com/';
  if (type === 'date') return '2024-01-01';
  if (type === 'checkbox' || type === 'radio') return 'on';
  if (type === 'password' || name.includes('password')) return 'doctor-password';
  return 'vial doctor';
}

/** Every `<form>` in the page with its submittable fields (inputs, textareas, selects). */
export function parseForms(html: string, pageUrl: URL): PageForm[] {
  const forms: PageForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attrs = attributes(m[1] ?? '');
    const body = m[2] ?? '';
    const fields: FormField[] = [];
    for (const input of body.matchAll(/<(input|textarea|select)\b([^>]*)>/gi)) {
      const a = attributes(input[2] ?? '');
      const name = a.get('name');
      const type = (input[1] ?? '').toLowerCase() === 'input' ? (a.get('type') ?? 'text').toLowerCase() : (input[1] ?? '').toLowerCase();
      if (name === undefined || name === '' || type === 'submit' || type === 'button' || type === 'file' || type === 'image' || type === 'reset') continue;
      let value = a.get('value') ?? '';
      if (type === 'textarea') value = decodeEntities(/^([^<]*)/.exec(body.slice((input.index ?? 0) + input[0].length))?.[1] ?? '');
      fields.push({ name, type, value });
    }
    const action = new URL(attrs.get('action') || pageUrl.pathname + pageUrl.search, pageUrl);
    forms.push({ method: (attrs.get('method') ?? 'GET').toUpperCase(), action: action.pathname + action.search, fields });
  }
  return forms;
}

/** The form posting to `path` (by pathname), if the page has one. */
export function formFor(forms: readonly PageForm[], path: string): PageForm | undefined {
  const wanted = path.split('?')[0];
  return forms.find((f) => f.method === 'POST' && f.action.split('?')[0] === wanted);
}

/** The token a page hands to its own scripts: `<meta name="csrf-token" content>` or a response header. */
export function pageToken(html: string, headers: IncomingHttpHeaders): string | undefined {
  for (const m of html.matchAll(/<meta\b([^>]*)>/gi)) {
    const a = attributes(m[1] ?? '');
    if (isTokenField(a.get('name') ?? '') && (a.get('content') ?? '') !== '') return a.get('content');
  }
  for (const name of TOKEN_HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * The body a browser would send for this form: given values first, then the form's own values,
 * then plausible ones. `withTokens: false` leaves out token fields: what a forged form on another
 * site can send, since it cannot read the page's token.
 */
export function formBody(fields: readonly FormField[], given: URLSearchParams, withTokens: boolean): URLSearchParams {
  const body = new URLSearchParams();
  const seen = new Set<string>();
  for (const field of fields) {
    if (seen.has(field.name)) continue;
    seen.add(field.name);
    if (isTokenField(field.name) && !withTokens) continue;
    body.set(field.name, given.get(field.name) ?? plausibleValue(field));
  }
  for (const [name, value] of given) if (!seen.has(name) && (withTokens || !isTokenField(name))) body.set(name, value);
  return body;
}

/** Headers that carry a token the way frameworks accept it from scripts (Flask-WTF X-CSRFToken, vial x-csrf-token). */
export function tokenHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { 'x-csrftoken': token, 'x-csrf-token': token };
}
