/**
 * What the doctor knows about one state-changing route before probing it: the page's own form for
 * it (fields and token, read with the logged-in session), and a same-origin control request that
 * submits that form as the page would. The CSRF and body probes compare with the control: a probe
 * that is refused when the control is refused too says nothing (issue 14, class 9).
 */
import { send } from './http.ts';
import type { Answer } from './http.ts';
import type { DoctorOptions, PostRoute } from './options.ts';
import type { SessionState } from './probe-session.ts';
import { sameOrigin } from './probe-session.ts';
import { formBody, formFor, pageToken, parseForms, tokenHeaders } from './form.ts';
import type { FormField } from './form.ts';

export interface PostTarget {
  readonly path: string;
  /** Where the form was found, or undefined when the doctor fell back to the given fields alone. */
  readonly formPage: string | undefined;
  readonly fields: readonly FormField[];
  readonly given: URLSearchParams;
  readonly token: string | undefined;
  /** A JSON body given as `--post 'PATH {"title":"x"}'`: the route takes JSON, not a form. */
  readonly json: Record<string, unknown> | undefined;
  /** The form as the page would submit it, token included. */
  readonly control: Answer;
}

export const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' } as const;
export const accepted = (status: number): boolean => status >= 200 && status < 400;

/** Fields used when no form and no fields are known: what a transfer form typically holds. */
const FALLBACK = 'amount=1&to=doctor';

/** The headers and body of a same-origin submission of the form, the way the page would send it. */
export function sameOriginForm(options: DoctorOptions, session: SessionState, target: Pick<PostTarget, 'token' | 'json'>): Record<string, string> {
  return { ...(target.json === undefined ? FORM_TYPE : { 'content-type': 'application/json' }), ...sameOrigin(options, session.jar), ...tokenHeaders(target.token) };
}

export function bodyOf(target: Pick<PostTarget, 'fields' | 'given'>, withTokens: boolean): URLSearchParams {
  return formBody(target.fields, target.given, withTokens);
}

/**
 * The body as sent: the form, or the JSON. A forged JSON body goes as text/plain, the one way a
 * form on another site can send JSON without a CORS preflight (`enctype="text/plain"`).
 */
export function encoded(target: Pick<PostTarget, 'fields' | 'given' | 'json'>, withTokens: boolean, forged = false): { type: string; body: string } {
  if (target.json !== undefined) return { type: forged ? 'text/plain' : 'application/json', body: JSON.stringify(target.json) };
  return { type: FORM_TYPE['content-type'], body: bodyOf(target, withTokens).toString() };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function preparePost(options: DoctorOptions, session: SessionState, route: PostRoute): Promise<PostTarget> {
  const json = parseJson(route.body);
  const given = new URLSearchParams(json === undefined ? route.body : '');
  let formPage: string | undefined;
  let fields: readonly FormField[] = [];
  let token: string | undefined;
  // The route itself often renders its form on GET; then the pages named with --page.
  for (const page of [route.path, ...options.pages]) {
    const answer = await send(options.target, page, { headers: session.jar.header(), timeoutMs: options.timeoutMs, maxBytes: 512 * 1024 });
    if (answer.status !== 200) continue;
    session.jar.store(answer.headers);
    const form = formFor(parseForms(answer.body, new URL(page, options.target)), route.path);
    token ??= pageToken(answer.body, answer.headers);
    if (form !== undefined) {
      formPage = page;
      fields = form.fields;
      break;
    }
  }
  if (formPage === undefined && route.body === '' && json === undefined) for (const [k, v] of new URLSearchParams(FALLBACK)) given.set(k, v);
  const draft = { path: route.path, formPage, fields, given, token, json };
  const control = await send(options.target, route.path, {
    method: 'POST',
    headers: sameOriginForm(options, session, draft),
    body: encoded(draft, true).body,
    timeoutMs: options.timeoutMs,
  });
  // Intentionally not stored in the jar: a control POST to /logout must not log the probes out.
  return { ...draft, control };
}

/** How the control went, for evidence lines. */
export function controlText(target: PostTarget): string {
  const from = target.json !== undefined ? 'the given JSON' : target.formPage === undefined ? 'the given fields' : `the form's own fields (from ${target.formPage})`;
  return `a same-origin POST with ${from}${target.token === undefined ? '' : ' and its token'} got ${target.control.status || target.control.error}`;
}
