/**
 * Security headers on an ordinary page: what a browser needs to refuse sniffing, framing and leaky
 * referrers. Referrer-Policy only governs requests a rendered document makes, so a JSON page is not
 * asked for it (vial leaves it off JSON; security/headers.ts).
 */
import { isNonDocumentType } from '../../internal/media-type.ts';
import type { Answer } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';

export function probeHeaders(options: DoctorOptions, page: Answer | undefined, findings: Finding[]): void {
  const probe = 'security headers';
  if (page === undefined || page.status === 0) {
    findings.push({ check: 'headers', class: 'security', probe, verdict: 'SKIP', evidence: `no answer from ${options.pages[0] ?? '/'} (${page?.error ?? 'not requested'})`, fix: '' });
    return;
  }
  const h = page.headers;
  const missing: string[] = [];
  let verdict: Finding['verdict'] = 'PASS';
  if (String(h['x-content-type-options'] ?? '').toLowerCase() !== 'nosniff') missing.push('X-Content-Type-Options: nosniff');
  const csp = String(h['content-security-policy'] ?? '');
  if (h['x-frame-options'] === undefined && !/frame-ancestors/i.test(csp)) missing.push("frame protection (X-Frame-Options or CSP frame-ancestors)");
  const document = !isNonDocumentType(typeof h['content-type'] === 'string' ? h['content-type'] : undefined);
  if (document && h['referrer-policy'] === undefined) missing.push('Referrer-Policy');
  if (missing.length > 0) verdict = 'WARN';
  if (options.target.protocol === 'https:' && h['strict-transport-security'] === undefined) {
    missing.push('Strict-Transport-Security');
    verdict = 'FAIL';
  }
  findings.push({
    check: 'headers',
    class: 'security',
    probe,
    verdict,
    evidence: missing.length === 0 ? `nosniff, frame protection${document ? ', Referrer-Policy' : ''}${options.target.protocol === 'https:' ? ', HSTS' : ''} present on ${options.pages[0] ?? '/'}` : `${options.pages[0] ?? '/'} lacks ${missing.join(', ')}`,
    fix: 'send these on every response (Flask-Talisman or an after_request hook; vial sends them by default)',
  });
}
