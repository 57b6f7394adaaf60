import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpConn } from '../bench/lib/http-conn.ts';
import { failureDetail, failures } from '../bench/lib/kit.ts';
import { loadScenario } from '../bench/lib/scenarios.ts';
import { runTrafficSpec, summarizeLatency } from '../bench/lib/traffic.ts';
import { specBudgetMs } from '../bench/lib/traffic-run.ts';

const benchDir = join(import.meta.dirname, '..', 'bench');

const EXPECTED: Record<string, readonly string[]> = {
  'pool-exhaustion': ['vial', 'fastify', 'fastify+under-pressure', 'flask (gunicorn -w 4)'],
  'blocking-route': ['node:http', 'fastify', 'fastify+under-pressure', 'flask (gunicorn -w 4)', 'flask (gthread 4x4)', 'vial (route in worker pool)', 'vial run --workers 2'],
  overload: ['vial', 'vial (pressure shedding off)', 'fastify', 'fastify+under-pressure'],
  soak: ['vial', 'fastify', 'vial run --workers 2'],
  memory: ['vial bounded', 'vial unbounded', 'node:http + lru-cache', 'fastify unbounded', 'flask unbounded (gunicorn -w 1)'],
};

describe('bench scenarios', () => {
  for (const [name, systems] of Object.entries(EXPECTED)) {
    it(`${name} loads, declares its systems and runs its own comparison`, async () => {
      const scenario = await loadScenario(join(benchDir, 'scenarios'), name);
      assert.equal(scenario.name, name);
      assert.deepEqual(scenario.systems.map((s) => s.name), systems);
      assert.equal(typeof scenario.run, 'function');
      for (const system of scenario.systems) {
        assert.ok(existsSync(join(benchDir, system.server)), `${system.name}: ${system.server} exists`);
        // External servers name what they run: the Flask module or the vial app module must be there.
        for (const arg of system.args ?? []) {
          if (arg === 'flask_app:app') assert.ok(existsSync(join(benchDir, 'servers', 'flask_app.py')));
          if (arg.endsWith('.ts') && !arg.startsWith('..')) assert.ok(existsSync(join(benchDir, 'servers', arg)), `${system.name}: ${arg} exists`);
        }
      }
    });
  }

  it('the vial app module exports the app that `vial run` loads', async () => {
    // The module's shape, not the built package: dist/ exists only once `npm run build` ran.
    process.env['BENCH_VIAL_FROM'] = 'src';
    const mod = (await import('../bench/servers/scenario-app.ts')) as { default?: { routeList?: unknown } };
    assert.ok(mod.default !== undefined && 'routeList' in mod.default);
  });

  it("the soak's vial routes keep g across an await and report the heap by space", async () => {
    process.env['BENCH_VIAL_FROM'] = 'src';
    const { app } = await import('../bench/servers/scenario-app.ts');
    const { TestClient } = await import('../src/testing.ts');
    const client = new TestClient(app);
    const replies = await Promise.all(['a', 'b', 'c'].map((id) => client.get(`/g-after-await?id=${id}`)));
    for (const reply of replies) assert.deepEqual(reply.json(), { same: true });
    const usage = (await client.get('/__bench/usage')).json<{ pid: number; heapUsed: number; spaces: Record<string, number> }>();
    assert.equal(usage.pid, process.pid);
    assert.ok(usage.heapUsed > 0 && (usage.spaces['new_space'] ?? 0) > 0, JSON.stringify(usage.spaces));
  });

  it('the Flask app parses as Python', { skip: spawnSync('python3', ['--version']).status !== 0 && 'python3 missing' }, () => {
    const result = spawnSync('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', join(benchDir, 'servers', 'flask_app.py')], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 0, result.stderr);
  });
});

describe('traffic generator', () => {
  let server: Server;
  let url: string;
  let served = 0;
  before(async () => {
    server = createServer((req, res) => {
      served++;
      if (req.url?.startsWith('/close')) {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2', connection: 'close' });
        res.end('ok');
      } else if (req.url?.startsWith('/chunked')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('he');
        res.end('llo');
      } else if (req.url?.startsWith('/busy')) {
        res.writeHead(503, { 'content-length': '4' });
        res.end('busy');
      } else if (req.url?.startsWith('/never')) {
        // no answer: the client's timeout decides
      } else {
        const body = JSON.stringify({ path: req.url });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads keep-alive, Connection: close and chunked answers on one connection', async () => {
    const conn = new HttpConn('127.0.0.1', Number(new URL(url).port), 2000);
    try {
      assert.deepEqual(await conn.get('/a'), { status: 200, body: '{"path":"/a"}' });
      assert.deepEqual(await conn.get('/close'), { status: 200, body: 'ok' });
      assert.deepEqual(await conn.get('/chunked'), { status: 200, body: 'hello' });
      assert.deepEqual(await conn.get('/b'), { status: 200, body: '{"path":"/b"}' });
    } finally {
      conn.close();
    }
  });

  it('reports a request the server never answers as a timeout', async () => {
    const conn = new HttpConn('127.0.0.1', Number(new URL(url).port), 100);
    try {
      assert.deepEqual(await conn.get('/never'), { status: 0, body: '', error: 'timeout' });
      assert.equal((await conn.get('/after')).status, 200, 'the next request gets a fresh connection');
    } finally {
      conn.close();
    }
  });

  it('runs an open-loop and a closed-loop load at once and counts what each got', async () => {
    served = 0;
    const [open, closed] = await runTrafficSpec({
      url,
      timeoutMs: 2000,
      loads: [
        { kind: 'open', name: 'open', path: '/o/{i}', ratePerSec: 100, durationMs: 200, maxConnections: 4 },
        { kind: 'closed', name: 'closed', path: '/busy', connections: 2, totalRequests: 10 },
      ],
    });
    assert.ok(open !== undefined && closed !== undefined);
    assert.equal(open.scheduled, 20);
    assert.equal(open.statuses['200'], 20);
    assert.equal(open.okLatencyMs.count, 20);
    // Timed from the write, a 200 can only be as late as timed from its due time, never later.
    assert.equal(open.okSinceSendMs.count, 20);
    assert.ok(open.okSinceSendMs.max <= open.okLatencyMs.max);
    assert.equal(failures(open), 0);
    assert.equal(closed.sent, 10);
    assert.deepEqual(closed.statuses, { '503': 10 });
    assert.equal(failureDetail(closed), '503:10');
    assert.equal(closed.okLatencyMs.count, 0);
    assert.equal(served, 30);
  });

  it('counts requests that never found a free connection as unsent', async () => {
    const [open] = await runTrafficSpec({
      url,
      timeoutMs: 300,
      loads: [{ kind: 'open', name: 'stuck', path: '/never', ratePerSec: 50, durationMs: 200, maxConnections: 2 }],
    });
    assert.ok(open !== undefined);
    assert.equal(open.scheduled, 10);
    assert.equal(open.sent + open.unsent, 10);
    assert.ok(open.unsent > 0);
    assert.equal(open.errors.timeout, open.sent);
  });

  it('summarises latencies with nearest-rank percentiles', () => {
    const s = summarizeLatency(Array.from({ length: 100 }, (_, i) => 100 - i));
    assert.deepEqual([s.count, s.p50, s.p90, s.p99, s.max, s.mean], [100, 50, 90, 99, 100, 50.5]);
    assert.ok(Number.isNaN(summarizeLatency([]).p99));
  });

  it('bounds a generator run by its schedule plus the request timeout', () => {
    assert.equal(specBudgetMs({ url, timeoutMs: 1000, loads: [{ kind: 'open', name: 'a', path: '/', ratePerSec: 1, durationMs: 5000, startAfterMs: 500, maxConnections: 1 }] }), 6500);
  });
});
