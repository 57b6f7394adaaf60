/**
 * The doctor's matrix (issue 14): broken and fixed Flask apps (test/fixtures/doctor/flask) under
 * Debian's gunicorn in sync (-w 4 broken, -w 12 fixed: more workers than the doctor's slow
 * clients) and gthread modes. Every check must be found on the broken app and none on the fixed
 * one. The race needs threads: under sync workers a global current_user is safe by accident, and
 * the doctor says PASS there, rightly. Two targets run at once (a broken and a fixed one) to keep
 * the file near a minute; each run is bounded by the doctor's own options.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PAD, doctor, hasFlask, startGunicorn } from './fixtures/doctor/harness.ts';
import type { DoctorRun, Server } from './fixtures/doctor/harness.ts';
import { CHECK_IDS } from '../src/cli/doctor/index.ts';
import type { CheckId, Report } from '../src/cli/doctor/index.ts';

const missing = hasFlask();

export const matrixArgs = (server: Server, memory: readonly string[] = ['--pid', String(server.pid)]): string[] => [
  server.url, '--page', '/login', '--login', 'POST /login username=alice&password=wonderland', '--post', '/notes', '--post', '/api/items',
  '--reflect', '/go?next={value}',
  '--leak', `/leak?key={n}&value=${PAD}`, '--requests', '6000', '--warmup-keys', '3000', ...memory,
  '--race', '/data?token={id}', '--race-requests', '500', '--race-in-flight', '32',
  '--async', '/async', '--async-clients', '8',
  '--slow', '/slow', '--fast', '/fast', '--clients', '4', '--seconds', '3', '--recovery-max-sec', '15',
];

/** The checks a report found: any FAIL, or WARN for headers (missing headers over http are a WARN). */
export function found(report: Report): Set<CheckId> {
  return new Set(report.findings.filter((f) => f.verdict === 'FAIL' || (f.check === 'headers' && f.verdict === 'WARN')).map((f) => f.check));
}

export function unhealthy(report: Report): string[] {
  return report.findings.filter((f) => f.verdict === 'FAIL' || f.verdict === 'WARN').map((f) => `${f.check} ${f.probe}: ${f.verdict} ${f.evidence}`);
}

describe('vial doctor matrix: Flask under gunicorn', { timeout: 240_000, skip: missing }, () => {
  const servers: Server[] = [];
  const runs = new Map<string, DoctorRun>();
  before(async () => {
    const [brokenSync, brokenThreads, fixedSync, fixedThreads] = await Promise.all([
      startGunicorn('broken', ['-w', '4']),
      startGunicorn('broken', ['-k', 'gthread', '-w', '1', '--threads', '4']),
      startGunicorn('fixed', ['-w', '12']),
      startGunicorn('fixed', ['-k', 'gthread', '-w', '2', '--threads', '16']),
    ]);
    servers.push(brokenSync, brokenThreads, fixedSync, fixedThreads);
    const [a, b] = await Promise.all([doctor(matrixArgs(brokenSync)), doctor(matrixArgs(fixedThreads))]);
    const [c, d] = await Promise.all([doctor(matrixArgs(brokenThreads)), doctor(matrixArgs(fixedSync))]);
    runs.set('broken sync', a).set('fixed gthread', b).set('broken gthread', c).set('fixed sync', d);
  });
  after(() => Promise.all(servers.map((s) => s.stop())));

  it('finds every check on the broken app under gthread', () => {
    const run = runs.get('broken gthread')!;
    assert.deepEqual([...found(run.report)].sort(), [...CHECK_IDS].sort(), JSON.stringify(run.report.findings.map((f) => [f.check, f.verdict, f.evidence])));
    assert.equal(run.code, 1);
  });
  it('finds every check but the race on the broken app under sync workers, and says the race PASSes there', () => {
    const run = runs.get('broken sync')!;
    assert.deepEqual([...found(run.report)].sort(), CHECK_IDS.filter((c) => c !== 'race').sort(), JSON.stringify(run.report.findings.map((f) => [f.check, f.verdict, f.evidence])));
    assert.equal(run.report.findings.find((f) => f.check === 'race')?.verdict, 'PASS');
  });
  for (const mode of ['fixed sync', 'fixed gthread']) {
    it(`finds nothing on the ${mode.replace('fixed', 'fixed app under')} workers and exits 0`, () => {
      const run = runs.get(mode)!;
      assert.deepEqual(unhealthy(run.report), []);
      assert.equal(run.code, 0);
    });
  }
  it('names the well-known secret, the kept session id and the cross-site note', () => {
    const findings = runs.get('broken sync')!.report.findings;
    assert.match(findings.find((f) => f.check === 'secret')?.evidence ?? '', /"supersecretkey"/);
    assert.match(findings.find((f) => f.check === 'fixation')?.evidence ?? '', /sid kept the same value/);
    assert.match(findings.find((f) => f.probe === 'csrf /notes')?.evidence ?? '', /title=/);
  });
  it('logs in through the CSRF-protected form of the fixed app and sees the id regenerated', () => {
    const findings = runs.get('fixed sync')!.report.findings;
    assert.equal(findings.find((f) => f.probe === 'login'), undefined, 'the login went through');
    assert.match(findings.find((f) => f.check === 'fixation')?.evidence ?? '', /changed across login/);
    assert.equal(findings.find((f) => f.probe === 'csrf /notes')?.verdict, 'PASS');
  });
  it('calls the JSON route that fails on a form body inconclusive for CSRF, not PASS', () => {
    for (const run of runs.values()) assert.equal(run.report.findings.find((f) => f.probe === 'csrf /api/items')?.verdict, 'SKIP');
  });
  it('reports the plateau of the bounded cache and how many distinct keys were sent', () => {
    const leak = runs.get('fixed sync')!.report.findings.find((f) => f.check === 'leak');
    assert.equal(leak?.verdict, 'PASS');
    assert.ok(Number(leak?.data?.['distinctKeys']) > 3000);
    assert.equal(typeof leak?.data?.['plateauBytes'], 'number');
  });
  it('tells a worker held by async def from a blocking route, and reports how long gunicorn took to recover', () => {
    const run = runs.get('broken sync')!;
    assert.equal(run.report.findings.find((f) => f.check === 'async')?.data?.['classification'], 'holds-worker');
    const exhaustion = run.report.findings.find((f) => f.check === 'exhaustion');
    assert.equal(exhaustion?.data?.['classification'], 'stalls');
    assert.equal(typeof exhaustion?.data?.['recoveryMs'], 'number');
    assert.ok(Number(exhaustion?.data?.['recoveryMs']) > 1000, 'workers asleep in time.sleep(10) outlast the doctor');
  });
});
