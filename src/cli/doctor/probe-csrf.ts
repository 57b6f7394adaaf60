/**
 * CSRF: replays what a forged form on another site makes a browser send, with the session cookie
 * attached. A modern browser marks it (`Origin`, `Sec-Fetch-Site: cross-site`); an old one or a
 * privacy proxy may send neither header, and then only a session-bound token can tell.
 */
import { send } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import type { SessionState } from './probe-session.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const accepted = (status: number): boolean => status >= 200 && status < 400;

export async function probeCsrf(options: DoctorOptions, session: SessionState, findings: Finding[]): Promise<void> {
  const fix = 'refuse unsafe methods whose Sec-Fetch-Site is cross-site or whose Origin is foreign, and require a session-bound token otherwise (Flask-WTF CSRFProtect; on by default in vial)';
  if (options.posts.length === 0) {
    findings.push({ class: 'security', probe: 'csrf', verdict: 'SKIP', evidence: 'no state-changing route given (add --post /transfer)', fix });
    return;
  }
  const cookie = session.jar.header();
  const withCookie = cookie.cookie !== undefined;
  for (const path of options.posts) {
    const crossSite = await send(options.target, path, {
      method: 'POST',
      headers: { ...FORM, ...cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
      body: 'amount=1&to=doctor',
      timeoutMs: options.timeoutMs,
    });
    if (crossSite.status === 404 || crossSite.status === 405) {
      findings.push({ class: 'security', probe: `csrf ${path}`, verdict: 'WARN', evidence: `POST ${path} answered ${crossSite.status}: is this the right route?`, fix: 'pass an existing POST route to --post' });
      continue;
    }
    if (accepted(crossSite.status)) {
      findings.push({
        class: 'security',
        probe: `csrf ${path}`,
        verdict: 'FAIL',
        evidence: `a cross-site POST (Origin: https://evil.example, Sec-Fetch-Site: cross-site${withCookie ? ', with the session cookie' : ''}) got ${crossSite.status}`,
        fix,
      });
      continue;
    }
    if (crossSite.status === 0 || crossSite.status >= 500) {
      findings.push({ class: 'security', probe: `csrf ${path}`, verdict: 'WARN', evidence: `a cross-site POST got ${crossSite.status || crossSite.error}: the route failed rather than refused, so the doctor cannot tell`, fix: 'give --post a route that accepts a form POST, or check why it fails' });
      continue;
    }
    if (!withCookie) {
      findings.push({ class: 'security', probe: `csrf ${path}`, verdict: 'PASS', evidence: `cross-site POST refused with ${crossSite.status || crossSite.error}; token check not tested (no session: add --login)`, fix });
      continue;
    }
    const bare = await send(options.target, path, { method: 'POST', headers: { ...FORM, ...cookie }, body: 'amount=1&to=doctor', timeoutMs: options.timeoutMs });
    if (accepted(bare.status)) {
      findings.push({
        class: 'security',
        probe: `csrf ${path}`,
        verdict: 'WARN',
        evidence: `cross-site POST refused (${crossSite.status}), but a POST with the session cookie and neither Origin nor Sec-Fetch-Site got ${bare.status}: no token check for old browsers`,
        fix,
      });
      continue;
    }
    findings.push({ class: 'security', probe: `csrf ${path}`, verdict: 'PASS', evidence: `cross-site POST refused (${crossSite.status}); POST with the cookie and no token refused (${bare.status || bare.error})`, fix });
  }
}
