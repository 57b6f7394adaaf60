/**
 * `vial doctor` against the classic Flask app (test/fixtures/doctor/flask/app.py) under gunicorn:
 * the doctor must find and name each of its problems. Skipped, with the reason, where Debian's
 * gunicorn or python3-flask is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PAD, doctor, hasFlask, startGunicorn, verdictOf } from './fixtures/doctor/harness.ts';
import type { DoctorRun, Server } from './fixtures/doctor/harness.ts';

const missing = hasFlask();

describe('vial doctor on the classic Flask app under gunicorn -w 4', { timeout: 180_000, skip: missing }, () => {
  let server: Server;
  let run: DoctorRun;
  before(async () => {
    server = await startGunicorn(['-w', '4']);
    run = await doctor([
      server.url, '--login', 'POST /login user=alice', '--post', '/transfer', '--post', '/api/items',
      '--leak', `/cache?key={n}&value=${PAD}`, '--requests', '4000', '--pid', String(server.pid),
      '--slow', '/slow', '--fast', '/fast', '--clients', '8', '--seconds', '3',
    ]);
  });
  after(() => server?.stop());

  it('exits 1', () => assert.equal(run.code, 1));
  it('names the well-known secret that signs the readable session cookie', () => {
    const finding = run.report.findings.find((f) => f.probe === 'session secret');
    assert.equal(finding?.verdict, 'FAIL');
    assert.match(finding?.evidence ?? '', /"supersecretkey"/);
    assert.match(finding?.evidence ?? '', /alice/);
  });
  it('finds the cross-site POST accepted with the session cookie', () => assert.deepEqual(verdictOf(run.report, 'csrf /transfer'), ['FAIL']));
  it('finds the traceback in the error page', () => {
    const finding = run.report.findings.find((f) => f.probe === 'error leak' && f.verdict === 'FAIL');
    assert.match(finding?.evidence ?? '', /Python traceback/);
  });
  it('finds the 5 MiB body crashing the JSON route', () => assert.ok(run.report.findings.some((f) => f.probe === 'oversized body' && f.verdict === 'FAIL')));
  it('finds the cookie without Secure or SameSite', () => assert.match(run.report.findings.find((f) => f.probe === 'session cookie')?.evidence ?? '', /no Secure.*no SameSite/));
  it('finds every worker held by time.sleep(10) stalling /fast', () => {
    const finding = run.report.findings.find((f) => f.class === 'exhaustion');
    assert.equal(finding?.verdict, 'FAIL');
    assert.equal(finding?.data?.['classification'], 'stalls');
  });
  it('finds the unbounded dict growing in the workers', () => assert.notEqual(verdictOf(run.report, 'leak')[0], 'PASS'));
});

describe('vial doctor on the classic Flask app under threaded gunicorn', { timeout: 120_000, skip: missing }, () => {
  it('finds the global current_user crossing between requests', async (t) => {
    const server = await startGunicorn(['-w', '1', '--threads', '16']);
    t.after(() => server.stop());
    const run = await doctor([server.url, '--race', '/whoami?user={id}', '--race-requests', '1000', '--race-in-flight', '32']);
    const finding = run.report.findings.find((f) => f.class === 'race');
    assert.equal(finding?.verdict, 'FAIL');
    assert.ok(Number(finding?.data?.['crossed']) > 0);
  });
});
