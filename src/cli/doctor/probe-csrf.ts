/**
 * CSRF: replays what a forged form on another site makes a browser send, with the session cookie
 * attached and the page's own fields (the forger knows them; only the token is out of reach). A
 * modern browser marks it (`Origin`, `Sec-Fetch-Site: cross-site`); an old one or a privacy proxy
 * may send neither header, and then only a session-bound token can tell. Each verdict is weighed
 * against the same-origin control (post-target.ts): when the control is refused too, the refusal
 * of the forgery proves nothing and the check is SKIP, never PASS.
 */
import { send } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import type { SessionState } from './probe-session.ts';
import { accepted, controlText, encoded } from './post-target.ts';
import type { PostTarget } from './post-target.ts';

const FIX = 'refuse unsafe methods whose Sec-Fetch-Site is cross-site or whose Origin is foreign, and require a session-bound token otherwise (Flask-WTF CSRFProtect; on by default in vial)';

export async function probeCsrf(options: DoctorOptions, session: SessionState, targets: readonly PostTarget[], findings: Finding[]): Promise<void> {
  const base = { check: 'csrf', class: 'security', fix: FIX } as const;
  if (targets.length === 0) {
    findings.push({ ...base, probe: 'csrf', verdict: 'SKIP', evidence: 'no state-changing route given (add --post /transfer)' });
    return;
  }
  const cookie = session.jar.header();
  const withCookie = cookie.cookie !== undefined;
  for (const target of targets) {
    const probe = `csrf ${target.path}`;
    const { type, body: forged } = encoded(target, false, true);
    const crossSite = await send(options.target, target.path, {
      method: 'POST',
      headers: { 'content-type': type, ...cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
      body: forged,
      timeoutMs: options.timeoutMs,
    });
    const data = { controlStatus: target.control.status, crossSiteStatus: crossSite.status, formFound: target.formPage !== undefined, token: target.token !== undefined };
    const control = controlText(target);
    if (accepted(crossSite.status)) {
      findings.push({ ...base, probe, verdict: 'FAIL', data, evidence: `a cross-site POST (Origin: https://evil.example, Sec-Fetch-Site: cross-site${withCookie ? ', with the session cookie' : ''}) carrying ${forged || 'no fields'} got ${crossSite.status}` });
      continue;
    }
    if (target.control.status === 404 || target.control.status === 405) {
      findings.push({ ...base, probe, verdict: 'WARN', data, evidence: `POST ${target.path} answered ${target.control.status} even same-origin: is this the right route?`, fix: 'pass an existing POST route to --post' });
      continue;
    }
    if (!accepted(target.control.status)) {
      findings.push({ ...base, probe, verdict: 'SKIP', data, evidence: `inconclusive: ${control} too, so the cross-site POST's ${crossSite.status || crossSite.error} is no refusal; give the route's fields with --post '${target.path} field=value' or --login` });
      continue;
    }
    if (!withCookie) {
      findings.push({ ...base, probe, verdict: 'PASS', data, evidence: `cross-site POST refused with ${crossSite.status || crossSite.error} while ${control}; token check not tested (no session: add --login)` });
      continue;
    }
    const bare = await send(options.target, target.path, { method: 'POST', headers: { 'content-type': type, ...cookie }, body: forged, timeoutMs: options.timeoutMs });
    if (accepted(bare.status)) {
      findings.push({ ...base, probe, verdict: 'WARN', data, evidence: `cross-site POST refused (${crossSite.status}), but a POST with the session cookie and neither Origin nor Sec-Fetch-Site nor token got ${bare.status}: no token check for old browsers` });
      continue;
    }
    findings.push({ ...base, probe, verdict: 'PASS', data, evidence: `cross-site POST refused (${crossSite.status}); POST with the cookie and no token refused (${bare.status || bare.error}); ${control}` });
  }
}
