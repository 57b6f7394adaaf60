import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import pino from 'pino';
import { VialError } from '../src/errors.ts';
import { LatencyHistogram } from '../src/observe/latency.ts';
import { formatLine, prettyDestination } from '../src/observe/pretty.ts';
import { installRequestLog } from '../src/observe/request-log.ts';
import { TestClient } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';

function capture(): { lines: Record<string, unknown>[]; stream: { write(line: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

function appWithLog(stream: { write(line: string): void }) {
  const app = makeApp({ security: { session: { store: 'memory' } }, log: { requestIdHeader: 'always' } });
  app.get('/users/<int:id>', (ctx) => ({ id: ctx.params['id'] }));
  app.get('/fail', () => {
    throw new Error('secret detail');
  });
  return { app, log: pino({ level: 'info' }, stream) };
}

describe('the request log', () => {
  it('writes one JSON line per request with id, method, route, path, status and duration', async () => {
    const { stream, lines } = capture();
    const { app, log } = appWithLog(stream);
    const requestLog = installRequestLog({ log, routeList: app.routeList });
    try {
      const res = await new TestClient(app).get('/users/7');
      assert.equal(res.status, 200);
      assert.equal(lines.length, 1);
      const line = lines[0] as Record<string, unknown>;
      assert.equal(line['msg'], 'request');
      assert.equal(line['reqId'], res.headers['x-request-id']);
      assert.equal(line['method'], 'GET');
      assert.equal(line['route'], 'GET /users/<int:id>');
      assert.equal(line['path'], '/users/7');
      assert.equal(line['status'], 200);
      assert.equal(typeof line['durationMs'], 'number');
      assert.equal(line['code'], undefined);
    } finally {
      requestLog.close();
    }
  });

  it('logs a 5xx at error level with the error code when the event carries the error', async () => {
    const { stream, lines } = capture();
    const { app, log } = appWithLog(stream);
    const requestLog = installRequestLog({ log, routeList: app.routeList });
    try {
      assert.equal((await new TestClient(app).get('/fail')).status, 500);
      const line = lines.find((l) => l['msg'] === 'request');
      assert.equal(line?.['status'], 500);
      assert.equal(line?.['level'], 50);
      // The dispatcher's event as the lead wires it: `error` is the failure (see docs/admin.md).
      const route = app.routeList.find((r) => r.info.key === 'GET /fail')?.info;
      channel('vial:request').publish({ ctx: { id: 'x-1', route, request: { method: 'GET', path: '/fail' } }, route: route?.key, status: 503, durationMs: 1, error: new VialError('VIAL_ERR_OVERLOADED', 'busy', { status: 503 }) });
      assert.equal(lines.at(-1)?.['code'], 'VIAL_ERR_OVERLOADED');
    } finally {
      requestLog.close();
    }
  });

  it('logs nothing when switched off, and nothing for another app', async () => {
    const { stream, lines } = capture();
    const { app, log } = appWithLog(stream);
    const off = installRequestLog({ log, routeList: app.routeList }, { requests: false });
    const other = makeApp();
    other.get('/users/<int:id>', () => 'other');
    const onlyOther = installRequestLog({ log, routeList: other.routeList });
    try {
      assert.equal((await new TestClient(app).get('/users/1')).status, 200);
      assert.equal(lines.length, 0);
    } finally {
      off.close();
      onlyOther.close();
    }
  });
});

describe('the development formatter', () => {
  it('turns a request record into one readable line', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 1, 12, 0, 1, 5), pid: 1, hostname: 'h', reqId: 'ab-1', method: 'GET', route: 'GET /users/<int:id>', path: '/users/7', status: 200, durationMs: 3.14159, msg: 'request' });
    assert.equal(formatLine(line), '12:00:01.005 GET    /users/7 200 3.1 ms (GET /users/<int:id>) ab-1');
  });

  it('shows other records with their level, message and fields, and colours only on request', () => {
    const line = JSON.stringify({ level: 40, time: 0, msg: 'pool low', free: 2 });
    assert.equal(formatLine(line), '00:00:00.000 WARN  pool low free=2');
    const written: string[] = [];
    const dest = prettyDestination({ stream: { write: (s: string) => written.push(s) }, color: true });
    dest.write(JSON.stringify({ level: 30, time: 0, method: 'GET', path: '/', status: 503, durationMs: 1, reqId: 'r', code: 'VIAL_ERR_OVERLOADED', msg: 'request' }) + '\n');
    assert.match(written[0] ?? '', /\x1b\[31m503\x1b\[0m/);
    assert.match(written[0] ?? '', /VIAL_ERR_OVERLOADED/);
    assert.equal(formatLine('not json\n'), 'not json');
  });
});

describe('the latency histogram', () => {
  it('reports percentiles within its 10% bucket width', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    for (const [q, exact] of [[0.5, 50], [0.95, 95], [0.99, 99]] as const) {
      const got = h.percentile(q);
      assert.ok(got >= exact && got <= exact * 1.1, `p${q * 100}: ${got} vs ${exact}`);
    }
    h.reset();
    assert.equal(h.percentile(0.99), 0);
  });
});
