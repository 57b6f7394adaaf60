/**
 * Error pages and bodies: does a 404 or a malformed body leak a stack trace or file paths, does a
 * malformed body crash the handler (500 instead of 4xx), and is a 5 MiB body refused (413)
 * instead of read into memory or left hanging.
 */
import { randomBytes } from 'node:crypto';
import { send } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import type { SessionState } from './probe-session.ts';
import { accepted, bodyOf, controlText, sameOriginForm } from './post-target.ts';
import type { PostTarget } from './post-target.ts';

const LEAKS: readonly (readonly [RegExp, string])[] = [
  [/Traceback \(most recent call last\)/, 'a Python traceback'],
  [/File "[^"]+", line \d+/, 'a Python stack frame'],
  [/Werkzeug Debugger|werkzeug\.(?:exceptions|debug)/i, 'Werkzeug internals'],
  [/^\s*at (?:async )?(?:Object\.|Module\.|new )?[\w$.<>]*\s*\(?(?:file:\/\/|node:|\/)[^)\n]*:\d+:\d+\)?/m, 'a JavaScript stack trace'],
  [/node_modules[\\/]/, 'a node_modules path'],
  [/(?:\/home|\/usr|\/srv|\/opt|\/var|\/app|\/work|\/root|[A-Z]:\\)[^\s"'<>]*\.(?:py|js|ts|mjs|cjs|rb|php|go|java)\b/, 'a server file path'],
];

export function findLeak(body: string): string | undefined {
  for (const [pattern, what] of LEAKS) {
    const match = pattern.exec(body);
    if (match !== null) return `${what} ("${match[0].trim().slice(0, 60)}")`;
  }
  return undefined;
}

const LEAK_FIX = 'answer errors with a short message and log the details server-side (never debug=True or a handler returning the traceback; vial shows only exposed 4xx messages)';

const base = { check: 'errors', class: 'security' } as const;

export async function probeErrors(options: DoctorOptions, session: SessionState, targets: readonly PostTarget[], findings: Finding[]): Promise<void> {
  const missing = `/vial-doctor-missing-${randomBytes(4).toString('hex')}`;
  const notFound = await send(options.target, missing, { timeoutMs: options.timeoutMs });
  const leak = findLeak(notFound.body);
  if (notFound.status === 0) findings.push({ ...base, probe: 'error leak', verdict: 'SKIP', evidence: `GET of an unknown path got no answer (${notFound.error ?? 'closed'})`, fix: '' });
  else if (leak === undefined) findings.push({ ...base, probe: 'error leak', verdict: 'PASS', evidence: `GET of an unknown path answered ${notFound.status} without internals`, fix: '' });
  else findings.push({ ...base, probe: 'error leak', verdict: 'FAIL', evidence: `GET of an unknown path answered ${notFound.status} with ${leak}`, fix: LEAK_FIX });
  if (targets.length === 0) {
    findings.push({ ...base, probe: 'body limits', verdict: 'SKIP', evidence: 'no POST route given (add --post PATH)', fix: '' });
    return;
  }
  const malformed: readonly (readonly [string, string])[] = [
    ['application/json', '{"amount": 1, "to": '],
    ['application/x-www-form-urlencoded', 'amount=%zz&%'],
    ['multipart/form-data; boundary=doctor', '--doctor\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated'],
  ];
  for (const target of targets) {
    const path = target.path;
    const headers = sameOriginForm(options, session, target);
    const results = await Promise.all(
      malformed.map(async ([type, body]) => [type, await send(options.target, path, { method: 'POST', headers: { ...headers, 'content-type': type }, body, timeoutMs: options.timeoutMs })] as const),
    );
    // One line per route: three bodies that leak the same traceback are one finding.
    const statuses = results.map(([, a]) => a.status || a.error).join('/');
    const what = `POST ${path} with malformed JSON/form/multipart bodies answered ${statuses}`;
    const leaked = results.map(([, a]) => findLeak(a.body)).find((l) => l !== undefined);
    if (leaked !== undefined) findings.push({ ...base, probe: 'error leak', verdict: 'FAIL', evidence: `${what}, showing ${leaked}`, fix: LEAK_FIX });
    else if (results.some(([, a]) => a.status >= 500)) {
      findings.push({ ...base, probe: 'malformed body', verdict: 'FAIL', evidence: `${what}: the handler crashed on client input`, fix: 'validate bodies and answer 400/415/422; a 500 on bad input hides real errors and may leak internals' });
    } else if (!accepted(target.control.status)) {
      findings.push({ ...base, probe: 'malformed body', verdict: 'SKIP', evidence: `inconclusive: ${what}, but ${controlText(target)} too, so the bodies may never have been parsed`, fix: '' });
    } else if (results.some(([, a]) => a.status === 0)) findings.push({ ...base, probe: 'malformed body', verdict: 'WARN', evidence: `${what}: some got no answer`, fix: 'answer malformed input with 400' });
    else findings.push({ ...base, probe: 'malformed body', verdict: 'PASS', evidence: `${what} without internals`, fix: '' });
    findings.push(await oversized(options, session, target));
  }
}

/** The form's own body with one field padded to 5 MiB: refused for its size, not for a missing field. */
function hugeBody(target: PostTarget, size: number): Buffer {
  if (target.json !== undefined) {
    const key = Object.keys(target.json).find((k) => typeof target.json?.[k] === 'string') ?? 'data';
    const rest = Object.fromEntries(Object.entries(target.json).filter(([k]) => k !== key));
    const open = JSON.stringify(rest).slice(0, -1);
    const head = Buffer.from(`${open}${open === '{' ? '' : ','}${JSON.stringify(key)}:"`);
    const body = Buffer.alloc(Math.max(size, head.length + 2), 'a');
    head.copy(body);
    body.write('"}', body.length - 2);
    return body;
  }
  const form = bodyOf(target, true);
  const names = [...form.keys()];
  const padded = names.find((n) => !/csrf|token/i.test(n)) ?? 'data';
  form.delete(padded);
  const head = Buffer.from(`${form.toString()}${form.size > 0 ? '&' : ''}${encodeURIComponent(padded)}=`);
  const body = Buffer.alloc(Math.max(size, head.length), 'a');
  head.copy(body);
  return body;
}

async function oversized(options: DoctorOptions, session: SessionState, target: PostTarget): Promise<Finding> {
  const path = target.path;
  const size = 5 * 1024 * 1024;
  const body = hugeBody(target, size);
  const fix = 'limit request bodies (Flask MAX_CONTENT_LENGTH, vial body.maxBytes: 1 MiB by default) and answer 413 before reading them';
  const base = { check: 'errors', class: 'security', probe: 'oversized body', fix } as const;
  // The same rule as CSRF: a refusal means nothing when the ordinary-sized form is refused too.
  if (!accepted(target.control.status)) return { ...base, verdict: 'SKIP', evidence: `inconclusive: ${controlText(target)}, so a refusal of a 5 MiB POST would not be about its size` };
  const answer = await send(options.target, path, {
    method: 'POST',
    headers: { ...sameOriginForm(options, session, target), 'content-length': String(body.length) },
    body,
    timeoutMs: Math.max(options.timeoutMs, 10_000),
  });
  if (answer.status === 413) return { ...base, verdict: 'PASS', evidence: `a 5 MiB POST to ${path} was refused with 413 in ${Math.round(answer.ms)} ms` };
  if (answer.status >= 400 && answer.status < 500) return { ...base, verdict: 'PASS', evidence: `a 5 MiB POST to ${path} was refused with ${answer.status} (413 is the precise answer)` };
  if (answer.timedOut) return { ...base, verdict: 'FAIL', evidence: `a 5 MiB POST to ${path} got no answer in ${Math.round(answer.ms)} ms: the server hangs on large bodies` };
  // A server that answers 413 and closes at once can reset the socket before our parser reads the
  // answer; a reset while we are still sending is that refusal, seen from the client.
  if (answer.error === 'ECONNRESET' || answer.error === 'EPIPE') return { ...base, verdict: 'PASS', evidence: `a 5 MiB POST to ${path} was cut off by the server (${answer.error}) before it was all sent` };
  if (answer.status === 0) return { ...base, verdict: 'WARN', evidence: `a 5 MiB POST to ${path} got no answer (${answer.error ?? 'closed'})` };
  if (answer.status >= 500) return { ...base, verdict: 'FAIL', evidence: `a 5 MiB POST to ${path} answered ${answer.status}: the body crashed the handler` };
  // Intentionally a WARN: from outside, a handler that never reads the body looks the same as one that buffers all 5 MiB.
  return { ...base, verdict: 'WARN', evidence: `a 5 MiB POST to ${path} answered ${answer.status}: accepted, not refused (harmless only if the handler never reads the body)` };
}
