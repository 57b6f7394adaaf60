/**
 * Session probes: which cookies look like a session, their attributes, whether login rotates the
 * id (session fixation), and whether a client-side session is readable or signed with a well-known
 * secret. Leaves behind the logged-in cookie jar that the CSRF probe uses.
 */
import { randomBytes } from 'node:crypto';
import { CookieJar, send } from './http.ts';
import type { Answer, SetCookie } from './http.ts';
import type { DoctorOptions, LoginStep } from './options.ts';
import type { Finding, Verdict } from './report.ts';
import { readSignedCookie } from './signed-cookie.ts';
import { formBody, formFor, isTokenField, pageToken, parseForms, tokenHeaders } from './form.ts';

export interface SessionState {
  readonly jar: CookieJar;
  /** The answer to the first --page, for the header probe. */
  readonly firstPage: Answer | undefined;
  readonly sessionCookieNames: readonly string[];
  /** Whether every --login step answered 2xx/3xx (false when none was given). */
  readonly loggedIn: boolean;
}

const SESSION_NAME = /sess|sid|auth|token|login|remember|user|jwt/i;

/** Headers a same-origin browser form submission carries: what a real login looks like. */
export function sameOrigin(options: DoctorOptions, jar: CookieJar): Record<string, string> {
  return { origin: options.target.origin, 'sec-fetch-site': 'same-origin', ...jar.header() };
}

/**
 * Logs in as a browser does: open the login page first (its cookies are the pre-login state a
 * fixation attack plants), take the form's hidden fields and CSRF token from the page or a header,
 * then submit the form with the given fields. Returns the cookies set by the page and by the POST.
 */
async function login(options: DoctorOptions, step: LoginStep, jar: CookieJar, snapshot?: CookieJar): Promise<{ answer: Answer; cookies: SetCookie[]; pageCookies: SetCookie[] }> {
  const page = await send(options.target, step.path, { headers: jar.header(), timeoutMs: options.timeoutMs, maxBytes: 512 * 1024 });
  const pageCookies = page.status > 0 ? jar.store(page.headers) : [];
  const form = page.status === 200 ? formFor(parseForms(page.body, new URL(step.path, options.target)), step.path) : undefined;
  const token = page.status === 200 ? pageToken(page.body, page.headers) : undefined;
  const given = new URLSearchParams(step.body);
  const body = form === undefined ? given : formBody(form.fields, given, true);
  // The pre-login state: what the browser holds right before it submits the login form.
  if (snapshot !== undefined && snapshot.size === 0) for (const [name, value] of jar.entries()) snapshot.set(name, value);
  const answer = await send(options.target, step.path, {
    method: step.method,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...sameOrigin(options, jar), ...tokenHeaders(token) },
    body: body.toString(),
    timeoutMs: options.timeoutMs,
  });
  return { answer, cookies: jar.store(answer.headers), pageCookies };
}

const worst = (verdicts: Verdict[]): Verdict => (verdicts.includes('FAIL') ? 'FAIL' : verdicts.includes('WARN') ? 'WARN' : 'PASS');

function cookieFinding(cookie: SetCookie, https: boolean): Finding {
  const problems: string[] = [];
  const fixes: string[] = [];
  const verdicts: Verdict[] = [];
  const a = cookie.attributes;
  if (!a.has('httponly')) {
    verdicts.push('FAIL');
    problems.push('no HttpOnly (script can read it)');
    fixes.push('set HttpOnly');
  }
  if (!a.has('secure')) {
    verdicts.push(https ? 'FAIL' : 'WARN');
    problems.push(https ? 'no Secure' : 'no Secure (checked over http; needed once served over https)');
    fixes.push('set Secure (SESSION_COOKIE_SECURE / security.session.secure)');
  }
  const sameSite = a.get('samesite')?.toLowerCase();
  if (sameSite === undefined || sameSite === 'none') {
    verdicts.push('WARN');
    problems.push(sameSite === undefined ? 'no SameSite' : 'SameSite=None');
    fixes.push('set SameSite=Lax');
  }
  if (!cookie.name.startsWith('__Host-')) {
    verdicts.push('WARN');
    problems.push('no __Host- prefix (a sibling subdomain can overwrite it)');
    fixes.push('name it __Host-… with Path=/ and no Domain');
  }
  const verdict = worst(verdicts);
  return {
    check: 'cookie',
    class: 'security',
    probe: 'session cookie',
    verdict,
    evidence: verdict === 'PASS' ? `${cookie.name}: HttpOnly, Secure, SameSite=${a.get('samesite') ?? ''}, __Host- prefix` : `${cookie.name}: ${problems.join('; ')}`,
    fix: `${fixes.join('; ')}. vial does all of this by default.`,
  };
}

function signedFinding(name: string, value: string): Finding | undefined {
  const signed = readSignedCookie(value);
  if (signed === undefined) return undefined;
  const shown = (signed.payload ?? '').slice(0, 80);
  if (signed.weakSecret !== undefined) {
    return {
      check: 'secret',
      class: 'security',
      probe: 'session secret',
      verdict: 'FAIL',
      evidence: `${name} is a ${signed.format} cookie signed with the well-known secret "${signed.weakSecret}": anyone can forge a session (contents: ${shown})`,
      fix: 'generate a random secret (32+ bytes) from the environment, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"; vial refuses weak secrets in production',
    };
  }
  return {
    check: 'secret',
    class: 'security',
    probe: 'session contents',
    verdict: 'WARN',
    evidence: `${name} is a signed, unencrypted ${signed.format} cookie; the client can read it: ${shown}`,
    fix: 'keep only an opaque id in the cookie (server-side sessions) or encrypt it; vial stores sessions server-side by default',
  };
}

async function fixation(options: DoctorOptions, before: CookieJar, after: CookieJar, names: readonly string[], loggedIn: boolean): Promise<Finding> {
  const base = { check: 'fixation', class: 'security', probe: 'session fixation', fix: 'issue a new session id on login and destroy the old one (vial: ctx.session.login(id); Flask: server-side sessions regenerated on login, e.g. session_interface.regenerate)' } as const;
  if (!loggedIn) return { ...base, verdict: 'SKIP', evidence: 'login did not succeed, so there is no login to compare across' };
  // A pre-login id still in the jar after login is kept, whether the server re-sent it unchanged
  // or simply did not send the cookie again (the jar holds what the browser would).
  const kept = names.filter((n) => before.get(n) !== undefined && before.get(n) === after.get(n));
  if (kept.length > 0) return { ...base, verdict: 'FAIL', evidence: `${kept.join(', ')} kept the same value across login (re-sent unchanged or not re-sent at all): a planted or stolen pre-login id stays valid` };
  // No pre-login session to compare: plant one and see whether the server adopts it.
  const name = names[0];
  if (name === undefined) return { ...base, verdict: 'SKIP', evidence: 'neither the login page nor the login set a session cookie' };
  if (before.get(name) !== undefined) return { ...base, verdict: 'PASS', evidence: `${name} changed across login` };
  const planted = `doctor${randomBytes(16).toString('hex')}`;
  const jar = new CookieJar();
  jar.set(name, planted);
  for (const step of options.logins) await login(options, step, jar);
  if (jar.get(name) === planted) return { ...base, verdict: 'FAIL', evidence: `the server kept a session id the client chose (${name}=${planted.slice(0, 12)}…) through login` };
  return { ...base, verdict: 'PASS', evidence: `${name} is re-issued at login; a planted id was not adopted` };
}

export async function probeSession(options: DoctorOptions, findings: Finding[]): Promise<SessionState> {
  const jar = new CookieJar();
  const seen = new Map<string, SetCookie>();
  let firstPage: Answer | undefined;
  for (const page of options.pages) {
    const answer = await send(options.target, page, { headers: jar.header(), timeoutMs: options.timeoutMs });
    firstPage ??= answer;
    for (const cookie of jar.store(answer.headers)) seen.set(cookie.name, cookie);
  }
  const before = new CookieJar();
  const loginNames = new Set<string>();
  let loggedIn = options.logins.length > 0;
  for (const step of options.logins) {
    const { answer, cookies, pageCookies } = await login(options, step, jar, before);
    for (const cookie of pageCookies) seen.set(cookie.name, cookie);
    if (answer.status === 0 || answer.status >= 400) {
      loggedIn = false;
      findings.push({ check: 'fixation', class: 'security', probe: 'login', verdict: 'WARN', evidence: `${step.method} ${step.path} answered ${answer.status || answer.error}; session checks after login are incomplete`, fix: 'check the --login step (method, path, form fields)' });
    }
    for (const cookie of cookies) {
      seen.set(cookie.name, cookie);
      loginNames.add(cookie.name);
    }
  }
  // An anonymous CSRF cookie (vial_csrf, csrftoken) is not a session: it may stay across login.
  const sessionCookies = [...seen.values()].filter((c) => !isTokenField(c.name) && (loginNames.has(c.name) || SESSION_NAME.test(c.name)));
  const https = options.target.protocol === 'https:';
  for (const cookie of sessionCookies) {
    findings.push(cookieFinding(cookie, https));
    const signed = signedFinding(cookie.name, cookie.value);
    if (signed !== undefined) findings.push(signed);
  }
  if (sessionCookies.length === 0) {
    // Nothing was checked, so nothing passed.
    findings.push({
      check: 'cookie',
      class: 'security',
      probe: 'session cookie',
      verdict: options.logins.length > 0 ? 'WARN' : 'SKIP',
      evidence: options.logins.length > 0 ? 'login set no cookie that looks like a session' : 'no session cookie set by the pages (add --login to check one)',
      fix: 'check the --login step',
    });
  }
  if (options.logins.length > 0) findings.push(await fixation(options, before, jar, sessionCookies.map((c) => c.name), loggedIn));
  return { jar, firstPage, sessionCookieNames: sessionCookies.map((c) => c.name), loggedIn };
}
