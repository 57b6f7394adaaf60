/**
 * The doctor's false answers (issue 14): a dead target, a check that did not run, a POST route
 * that answers 400 to a body without its fields yet has no CSRF protection, and a route that
 * refuses everything. Real node:http servers on loopback; the doctor runs as the CLI does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { ROOT, doctor, freePort } from './fixtures/doctor/harness.ts';

function listen(server: HttpServer): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/** Notes written as many apps are: the handler reads `title`, a body without it is a 400, and nothing checks CSRF. */
function notesApp(): HttpServer {
  const notes: string[] = [];
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/notes') {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><form method="post" action="/notes"><input name="title"><textarea name="body"></textarea><button>Add</button></form>');
      return;
    }
    if (req.method === 'POST' && (req.url === '/notes' || req.url === '/closed')) {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const title = new URLSearchParams(body).get('title');
        if (req.url === '/closed' || title === null) {
          res.statusCode = 400;
          res.end('Bad Request: missing title');
          return;
        }
        notes.push(title);
        res.statusCode = 201;
        res.end(`created ${notes.length}`);
      });
      return;
    }
    res.statusCode = req.url === '/' ? 200 : 404;
    res.end(req.url === '/' ? 'hello' : 'not found');
  });
}

describe('vial doctor on a dead target', () => {
  it('exits 2 with a clear message and no PASS, in the table and in --json', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await doctor([url, '--post', '/notes', '--leak', '/c?k={n}', '--pid', String(process.pid)]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /nothing answers at http:\/\/127\.0\.0\.1:\d+\/ \(ECONNREFUSED\), so no check ran/);
    const json = run.report as unknown as { error?: { code: string }; findings?: unknown };
    assert.equal(json.error?.code, 'VIAL_ERR_DOCTOR_UNREACHABLE');
    assert.equal(json.findings, undefined, 'no findings, so no PASS');
    const table = spawnSync(process.execPath, ['src/cli/main.ts', 'doctor', url], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(table.status, 2);
    assert.doesNotMatch(table.stdout + table.stderr, /PASS/);
  });
});

describe('vial doctor on a route that answers 400 to a missing field and has no CSRF protection', () => {
  let server: HttpServer;
  let url: string;
  before(async () => {
    server = notesApp();
    url = await listen(server);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('builds the forged POST from the page\'s own form and finds it accepted', async () => {
    const run = await doctor([url, '--post', '/notes', '--quiet']);
    const csrf = run.report.findings.find((f) => f.probe === 'csrf /notes');
    assert.equal(csrf?.verdict, 'FAIL', csrf?.evidence);
    assert.match(csrf?.evidence ?? '', /title=vial\+doctor/);
    assert.equal(run.code, 1);
  });
  it('calls a route that refuses even the same-origin control inconclusive (SKIP) for CSRF and body limits, never PASS', async () => {
    const run = await doctor([url, '--post', '/closed', '--quiet']);
    const checks = run.report.findings.filter((f) => f.probe === 'csrf /closed' || f.probe === 'oversized body' || f.probe === 'malformed body');
    assert.equal(checks.length, 3);
    for (const f of checks) {
      assert.equal(f.verdict, 'SKIP', `${f.probe}: ${f.evidence}`);
      assert.match(f.evidence, /inconclusive/);
    }
  });
  it('reports checks that had nothing to check as SKIP: no session cookie, no POST route', async () => {
    const run = await doctor([url, '--quiet']);
    assert.equal(run.report.findings.find((f) => f.check === 'cookie')?.verdict, 'SKIP');
    assert.equal(run.report.findings.find((f) => f.check === 'csrf')?.verdict, 'SKIP');
    assert.equal(run.report.summary.FAIL, 0);
  });
});
