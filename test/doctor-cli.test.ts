/** `vial doctor` pieces that need no server: target policy, arguments, cookie reading, leak patterns, the table. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isLoopback, parseDoctorArgs, parseLogin } from '../src/cli/doctor/options.ts';
import { readSignedCookie } from '../src/cli/doctor/signed-cookie.ts';
import { findLeak } from '../src/cli/doctor/probe-errors.ts';
import { CHECK_IDS, Progress, formatTable, summarize } from '../src/cli/doctor/report.ts';
import { formBody, formFor, pageToken, parseForms, plausibleValue } from '../src/cli/doctor/form.ts';
import { fitLine } from '../src/cli/doctor/stats.ts';
import type { Finding } from '../src/cli/doctor/report.ts';
import { ROOT } from './fixtures/doctor/harness.ts';

// Made by Flask 3.1 itself: SecureCookieSessionInterface with secret_key "supersecretkey", then a random one.
const WEAK_FLASK = 'eyJ1c2VyIjoiYWxpY2UifQ.awX8sg.tixzdGXJDlTqhYWT4r1DDnf6AdQ';
const STRONG_FLASK = 'eyJ1c2VyIjoiYWxpY2UifQ.awX8sg.vTxuvRX4zbGPQGMHWpuhgERip94';

describe('vial doctor arguments', () => {
  it('refuses a target that is not loopback, with exit code 2 and the way out', () => {
    const run = spawnSync(process.execPath, ['src/cli/main.ts', 'doctor', 'http://example.com'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /not a loopback address/);
    assert.match(run.stderr, /--allow-host example\.com/);
  });
  it('accepts another host only when --allow-host names it', () => {
    const options = parseDoctorArgs(['http://staging.internal:8080', '--allow-host', 'staging.internal']);
    assert.notEqual(options, 'help');
    assert.throws(() => parseDoctorArgs(['http://10.0.0.5']), { code: 'VIAL_ERR_DOCTOR_TARGET' });
  });
  it('treats 127.0.0.0/8, localhost and ::1 as loopback', () => {
    for (const host of ['127.0.0.1', '127.4.5.6', 'localhost', '[::1]']) assert.equal(isLoopback(host), true, host);
    for (const host of ['10.0.0.1', 'example.com', '128.0.0.1']) assert.equal(isLoopback(host), false, host);
  });
  it('parses a login step and refuses templates without their placeholder', () => {
    assert.deepEqual(parseLogin('POST /login user=a&password=b'), { method: 'POST', path: '/login', body: 'user=a&password=b' });
    assert.throws(() => parseDoctorArgs(['http://127.0.0.1:1', '--leak', '/cache?key=1']), { code: 'VIAL_ERR_DOCTOR_USAGE' });
    assert.throws(() => parseDoctorArgs(['http://127.0.0.1:1', '--slow', '/slow']), { code: 'VIAL_ERR_DOCTOR_USAGE' });
    assert.throws(() => parseDoctorArgs(['http://127.0.0.1:1', '--async', '/async']), { code: 'VIAL_ERR_DOCTOR_USAGE' });
    const options = parseDoctorArgs(['http://127.0.0.1:1', '--slow', '/a', '--slow', '/b', '--fast', '/f', '--post', '/notes title=x']);
    assert.ok(options !== 'help');
    assert.deepEqual(options.slows, ['/a', '/b']);
    assert.deepEqual(options.posts, [{ path: '/notes', body: 'title=x' }]);
  });
});

describe('vial doctor cookie reading', () => {
  it('reads a Flask session cookie and names the well-known secret that signed it', () => {
    const cookie = readSignedCookie(WEAK_FLASK);
    assert.equal(cookie?.format, 'flask');
    assert.equal(cookie?.payload, '{"user":"alice"}');
    assert.equal(cookie?.weakSecret, 'supersecretkey');
  });
  it('still reads a Flask cookie signed with a strong secret, but names no secret', () => {
    const cookie = readSignedCookie(STRONG_FLASK);
    assert.equal(cookie?.payload, '{"user":"alice"}');
    assert.equal(cookie?.weakSecret, undefined);
  });
  it('leaves opaque session ids alone', () => assert.equal(readSignedCookie('pX3c9w1kRzq2b8mVn4T7yLs0aQe5uJh6fGd1oIi2Ck8'), undefined));
});

describe('vial doctor error-page patterns', () => {
  it('recognises Python tracebacks, JavaScript stacks and file paths', () => {
    assert.match(findLeak('Traceback (most recent call last):\n  File "/srv/app.py", line 3') ?? '', /Python traceback/);
    assert.match(findLeak('TypeError: x is undefined\n    at Object.<anonymous> (/app/server.js:10:5)') ?? '', /JavaScript stack/);
    assert.match(findLeak('failed in /home/deploy/app/views.py') ?? '', /file path/);
  });
  it('does not flag an ordinary error message', () => assert.equal(findLeak('{"error":"Not Found","message":"No route for GET /x"}'), undefined));
});

describe('vial doctor report', () => {
  it('prints a table with every finding and a summary line', () => {
    const findings: Finding[] = [
      { check: 'csrf', class: 'security', probe: 'csrf /transfer', verdict: 'FAIL', evidence: 'a cross-site POST got 200', fix: 'check Origin' },
      { check: 'race', class: 'race', probe: 'race /whoami', verdict: 'PASS', evidence: '0 of 10 crossed', fix: 'use g' },
    ];
    const table = formatTable({ target: 'http://127.0.0.1:1/', startedAt: '', durationMs: 1200, findings, summary: summarize(findings) });
    assert.match(table, /csrf\s+\| csrf \/transfer\s+\| FAIL/);
    assert.match(table, /1 FAIL, 0 WARN, 1 PASS, 0 SKIP in 1\.2 s/);
    assert.doesNotMatch(table, /use g/, 'a PASS row shows no fix');
  });
});

describe('vial doctor form reading', () => {
  const page = new URL('http://127.0.0.1:1/notes');
  const html = `<form method="post" action="/notes"><input type="hidden" name="csrf_token" value="t&amp;1">
    <input name="title"><input type="email" name="contact"><textarea name="body">hi</textarea><button name="go">Add</button></form>
    <form action="/search"><input name="q"></form>`;
  it('reads each form with its method, action and submittable fields', () => {
    const forms = parseForms(html, page);
    assert.equal(forms.length, 2);
    assert.deepEqual(forms[0]?.fields.map((f) => f.name), ['csrf_token', 'title', 'contact', 'body']);
    assert.equal(forms[0]?.fields[0]?.value, 't&1');
    assert.equal(formFor(forms, '/notes')?.method, 'POST');
    assert.equal(formFor(forms, '/search'), undefined, 'a GET form is not a state-changing one');
  });
  it('fills plausible values, keeps given ones, and leaves the token out of a forged body', () => {
    const fields = parseForms(html, page)[0]?.fields ?? [];
    const forged = formBody(fields, new URLSearchParams('title=given'), false);
    assert.equal(forged.toString(), 'title=given&contact=doctor%40example.com&body=hi');
    assert.equal(formBody(fields, new URLSearchParams(), true).get('csrf_token'), 't&1');
    assert.equal(plausibleValue({ name: 'amount', type: 'text', value: '' }), '1');
  });
  it('takes a token from a meta tag or a response header', () => {
    assert.equal(pageToken('<meta name="csrf-token" content="abc">', {}), 'abc');
    assert.equal(pageToken('', { 'x-csrf-token': 'def' }), 'def');
  });
});

describe('vial doctor progress and fits', () => {
  it('counts the ETA down from the planned phases and the share of the current one', () => {
    const lines: string[] = [];
    const progress = new Progress(false, (t) => void lines.push(t), true);
    progress.plan([{ name: 'security', estimateMs: 1000 }, { name: 'leak', estimateMs: 20_000 }]);
    progress.phase('security');
    assert.match(lines.at(-1) ?? '', /security \(ETA 21 s\)/);
    progress.phase('leak');
    assert.ok(progress.etaSec(1) === 0);
    assert.ok(progress.etaSec() <= 20);
  });
  it('writes nothing when no person is watching', () => {
    const lines: string[] = [];
    new Progress(true, (t) => void lines.push(t), false).update('x');
    assert.deepEqual(lines, []);
  });
  it('gives a rising line a large t and a flat noisy one a small t', () => {
    const rising = fitLine([[0, 0], [1, 1000], [2, 2100], [3, 2900], [4, 4000]]);
    assert.ok(rising.slope > 900 && rising.t > 10);
    const flat = fitLine([[0, 100], [1, 104], [2, 98], [3, 101], [4, 99]]);
    assert.ok(Math.abs(flat.t) < 2.5);
  });
  it('gives every finding class a stable check id', () => assert.deepEqual([...CHECK_IDS].sort(), ['async', 'cookie', 'csrf', 'errors', 'exhaustion', 'fixation', 'headers', 'leak', 'race', 'secret']));
});
