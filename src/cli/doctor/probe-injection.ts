/**
 * Reflected header injection: a CR/LF in a query value that the app copies into a header or a
 * redirect splits the response (RFC 9112 §11.1), letting an attacker add headers such as
 * Set-Cookie. Read over a bare socket, because Node's parser would refuse exactly what we look for.
 */
import { rawGet } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';

const MARKER = 'X-Doctor-Injected';
const PAYLOAD = encodeURIComponent(`/doctor\r\n${MARKER}: 1\r\nSet-Cookie: doctor=1`);

export async function probeInjection(options: DoctorOptions, findings: Finding[]): Promise<void> {
  const fix = 'never copy request values into headers unchecked: refuse CR/LF, and redirect only to known relative paths (vial refuses control characters in header values)';
  for (const template of options.reflects) {
    const path = template.replaceAll('{value}', PAYLOAD);
    const probe = `header injection ${template.split('?')[0] ?? template}`;
    const answer = await rawGet(options.target, path, options.timeoutMs);
    const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(answer.head)?.[1];
    const injected = answer.head.split('\r\n').find((line) => line.toLowerCase().startsWith(`${MARKER.toLowerCase()}:`));
    if (injected !== undefined) {
      findings.push({ check: 'headers', class: 'security', probe, verdict: 'FAIL', evidence: `a CR/LF in the query value became a response header: "${injected}" (status ${status ?? '?'})`, fix });
    } else if (status === undefined) {
      findings.push({ check: 'headers', class: 'security', probe, verdict: 'WARN', evidence: `no parsable answer (${answer.error ?? 'empty'})`, fix });
    } else if (status.startsWith('5')) {
      findings.push({ check: 'headers', class: 'security', probe, verdict: 'WARN', evidence: `answered ${status}: the value reached a header and the server refused it late; validate it in the app`, fix });
    } else {
      findings.push({ check: 'headers', class: 'security', probe, verdict: 'PASS', evidence: `answered ${status}; the CR/LF did not reach the response head`, fix });
    }
  }
}
