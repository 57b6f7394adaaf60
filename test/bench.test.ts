import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, resolveBenchOptions, BENCH_DEFAULTS } from '../bench/lib/options.ts';
import { median, percentile, ratio } from '../bench/lib/stats.ts';
import { detectPinning, parseProcStat, readProc, sampleProcess } from '../bench/lib/proc.ts';
import { buildWrkScript, luaString, parseAutocannonJson, parseWrkOutput, parseWrkText, parseWrkTime } from '../bench/lib/wrk.ts';
import { checkTargets, findWarnings, FRAMEWORK_TARGETS, renderSummary, summarise } from '../bench/lib/summary.ts';
import type { RunRecord } from '../bench/lib/summary.ts';
import { rotate } from '../bench/lib/standard.ts';
import { formatTable } from '../bench/lib/table.ts';
import { loadScenario, validateScenario } from '../bench/lib/scenarios.ts';
import { probe, startServer } from '../bench/lib/server.ts';
import { runLoad, WRK_PATH } from '../bench/lib/load.ts';
import type { Pinning } from '../bench/lib/types.ts';
import { area, selfTimes } from '../bench/profile.ts';
import { waitUntil } from './helpers/wait.ts';

const benchDir = join(import.meta.dirname, '..', 'bench');
const hasCode = (code: string) => (error: unknown) => (error as { code?: unknown }).code === code;

const WRK_TEXT = `Running 1s test @ http://127.0.0.1:43279/x
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   303.69us  821.84us   8.62ms   91.22%
    Req/Sec    42.13k    16.24k   58.69k    60.00%
  Latency Distribution
     50%   32.00us
     75%   53.00us
     90%    0.91ms
     99%    3.97ms
  41951 requests in 1.00s, 5.24MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 41951
Requests/sec:  41860.62
Transfer/sec:      5.23MB
`;

function record(system: string, round: number, rps: number, p99: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    round,
    order: 0,
    system,
    generator: 'wrk',
    rps,
    requests: rps * 5,
    durationSec: 5,
    latencyMs: { mean: 1, p50: 1, p90: 2, p99, max: 10 },
    errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 0 },
    generatorCpu: 0.3,
    serverCpu: 0.99,
    serverPeakRssBytes: 50 * 1024 * 1024,
    ...extra,
  };
}

describe('bench options', () => {
  it('runs the hello scenario with the defaults when given no arguments', () => {
    const args = parseArgs([]);
    assert.deepEqual(args.scenarios, ['hello']);
    assert.deepEqual(resolveBenchOptions(args.options), BENCH_DEFAULTS);
  });

  it('lets explicit flags win over --quick whatever their order', () => {
    const args = parseArgs(['--rounds', '3', '--quick', 'hello', 'memory', '--connections=10']);
    assert.deepEqual(args.scenarios, ['hello', 'memory']);
    assert.deepEqual(resolveBenchOptions(args.options), { ...BENCH_DEFAULTS, rounds: 3, durationSec: 2, warmupSec: 1, connections: 10 });
  });

  it('refuses unknown options, missing numbers and out-of-bound values with VIAL_ERR_BENCH_OPTIONS', () => {
    assert.throws(() => parseArgs(['--round', '3']), hasCode('VIAL_ERR_BENCH_OPTIONS'));
    assert.throws(() => parseArgs(['--duration']), hasCode('VIAL_ERR_BENCH_OPTIONS'));
    assert.throws(() => resolveBenchOptions({ rounds: 0 }), hasCode('VIAL_ERR_BENCH_OPTIONS'));
    assert.throws(() => resolveBenchOptions({ durationSec: 1.5 }), /durationSec must be an integer from 1 to 600/);
  });

  it('returns a frozen config', () => {
    assert.ok(Object.isFrozen(resolveBenchOptions({ rounds: 2 })));
  });
});

describe('bench statistics and tables', () => {
  it('takes medians and interpolated percentiles, ignoring missing values', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(percentile([1, 2, 3, 4, 5], 90), 4.6);
    assert.equal(median([Number.NaN, 7]), 7);
    assert.ok(Number.isNaN(median([])));
    assert.ok(Number.isNaN(ratio(1, 0)));
  });

  it('rotates the system order every round', () => {
    assert.deepEqual([0, 1, 2, 3].map((r) => rotate(['a', 'b', 'c'], r).join('')), ['abc', 'bca', 'cab', 'abc']);
  });

  it('aligns text left in the first column and right elsewhere', () => {
    const lines = formatTable([{ title: 'name', value: (r: [string, number]) => r[0] }, { title: 'n', value: (r) => String(r[1]) }], [['a', 100], ['bb', 2]]);
    assert.deepEqual(lines, ['name    n', '----  ---', 'a     100', 'bb      2']);
  });
});

describe('reading /proc', () => {
  it('counts stat fields from the last parenthesis, so odd command names parse', () => {
    const fields = ['S', ...Array.from({ length: 10 }, () => '0'), '150', '50', ...Array.from({ length: 8 }, () => '0'), '1000', '0'];
    const parsed = parseProcStat(`42 (we ird) (name) ${fields.join(' ')}`);
    assert.deepEqual(parsed, { cpuTicks: 200, rssBytes: 1000 * 4096 });
    assert.equal(parseProcStat('garbage'), undefined);
  });

  it('reads its own process and samples it', () => {
    const sample = readProc(process.pid);
    assert.ok(sample !== undefined && sample.rssBytes > 0);
    const usage = sampleProcess(process.pid).stop();
    assert.ok(usage.lastRssBytes > 0);
    assert.equal(readProc(2 ** 30), undefined);
  });

  it('counts a child in the tree\'s CPU and memory, not in the process\'s', async () => {
    // The child burns CPU until killed; this process only waits, so its own share stays small.
    const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      await waitUntil('the child to start', () => readProc(child.pid ?? 0) !== undefined);
      const own = sampleProcess(process.pid, 50);
      const tree = sampleProcess(process.pid, 50, true);
      await sleep(1000);
      const ownUsage = own.stop();
      const treeUsage = tree.stop();
      // No share threshold (a loaded machine may give the child little): only that it is counted.
      assert.ok(treeUsage.cpu > ownUsage.cpu, `tree ${treeUsage.cpu} should exceed own ${ownUsage.cpu} by the child's busy loop`);
      assert.ok(treeUsage.lastRssBytes > ownUsage.lastRssBytes);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('wrk output and script', () => {
  it('escapes every non-printable byte, quote and backslash as a decimal Lua escape', () => {
    assert.equal(luaString('a"b\\c\né'), '"a\\034b\\092c\\010\\195\\169"');
  });

  it('sets method, body and headers and reports through done()', () => {
    const script = buildWrkScript({ path: '/x', method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.match(script, /^wrk\.method = "POST"$/m);
    assert.match(script, /^wrk\.body = "\{\}"$/m);
    assert.match(script, /^wrk\.headers\["content-type"\] = "application\/json"$/m);
    assert.match(script, /^done = function\(summary, latency, requests\)$/m);
  });

  it('parses time units the way wrk prints them', () => {
    assert.equal(parseWrkTime('32.00us'), 0.032);
    assert.equal(parseWrkTime('3.97ms'), 3.97);
    assert.equal(parseWrkTime('1.00s'), 1000);
    assert.ok(Number.isNaN(parseWrkTime('fast')));
  });

  it('parses wrk text output including socket errors and non-2xx responses', () => {
    const parsed = parseWrkText(WRK_TEXT);
    assert.deepEqual(parsed, {
      requests: 41951,
      durationSec: 1,
      rps: 41860.62,
      latencyMs: { mean: 0.30369, p50: 0.032, p90: 0.91, p99: 3.97, max: 8.62 },
      errors: { connect: 1, read: 2, write: 3, timeout: 4, status: 41951 },
    });
  });

  it('prefers the exact result line over the rounded text', () => {
    const line = 'VIAL_BENCH {"requests":1000,"durationUs":2000000,"connect":0,"read":0,"write":0,"status":5,"timeout":0,"meanUs":1500.5,"p50Us":1200,"p90Us":2000,"p99Us":4100,"maxUs":9000}';
    const parsed = parseWrkOutput(`${WRK_TEXT}${line}\n`);
    assert.equal(parsed?.rps, 500);
    assert.equal(parsed?.latencyMs.p99, 4.1);
    assert.equal(parsed?.errors.status, 5);
    assert.equal(parseWrkOutput('wrk: connection refused'), undefined);
  });

  it('parses autocannon --json output', () => {
    const parsed = parseAutocannonJson('{"duration":2,"errors":1,"timeouts":2,"non2xx":3,"latency":{"mean":1.5,"p50":1,"p90":2,"p99":4,"max":9},"requests":{"total":1000}}');
    assert.equal(parsed?.rps, 500);
    assert.deepEqual(parsed?.errors, { connect: 1, read: 0, write: 0, timeout: 2, status: 3 });
    assert.equal(parseAutocannonJson('not json'), undefined);
  });
});

describe('bench summary', () => {
  const records = [
    ...[100, 110, 90].map((rps, i) => record('vial', i, rps, 5)),
    ...[100, 100, 100].map((rps, i) => record('fastify', i, rps, 4)),
    ...[105, 105, 105].map((rps, i) => record('node:http', i, rps, 3)),
  ];

  it('summarises each system by its medians over rounds', () => {
    const [vial] = summarise(['vial', 'fastify', 'node:http'], records);
    assert.equal(vial?.rps, 100);
    assert.equal(vial?.rpsMin, 90);
    assert.equal(vial?.rpsMax, 110);
    assert.equal(vial?.p99Ms, 5);
  });

  it('divides req/s by the server\'s CPU share so a starved run still compares', () => {
    const starved = [record('vial', 0, 25, 1, { serverCpu: 0.25 }), record('vial', 1, 100, 1, { serverCpu: 1 }), record('vial', 2, 45, 1, { serverCpu: 0.5 })];
    const [vial] = summarise(['vial'], starved);
    assert.equal(vial?.rps, 45);
    assert.equal(vial?.rpsPerCpu, 100);
  });

  it('checks the framework targets (issue 16) against the medians of req/cpu-s and p99', () => {
    const anchors = [
      ...records,
      ...[104, 104, 104].map((rps, i) => record('node:http+headers', i, rps, 3)),
      ...[101, 101, 101].map((rps, i) => record('fastify+headers', i, rps, 4)),
      ...[40, 40, 40].map((rps, i) => record('fastify-full', i, rps, 9)),
    ];
    const checks = checkTargets(summarise(['vial', 'fastify', 'node:http+headers', 'fastify+headers', 'fastify-full'], anchors), FRAMEWORK_TARGETS);
    assert.deepEqual(
      checks.map((c) => [c.label, c.pass]),
      [
        ['vial >= 0.95x node:http sending the same bytes', true],
        ['vial >= 1.0x fastify sending the same headers', false],
        ['vial >= 2.5x fastify with the same protections', true],
        ['vial p99 <= plain fastify p99', false],
      ],
    );
    assert.match(checks[0]?.detail ?? '', /req\/cpu-s/);
  });

  it('skips targets about systems the scenario does not run', () => {
    assert.deepEqual(checkTargets(summarise(['vial'], records), FRAMEWORK_TARGETS), []);
  });

  it('prints the table and the first system against each other', () => {
    const lines = renderSummary(summarise(['vial', 'fastify'], records));
    assert.match(lines[0] ?? '', /^system\s+req\/s/);
    assert.equal(lines.at(-1), 'vial/fastify: req/s 1.00x, req/cpu-s 1.00x, p50 1.00x, p99 1.25x');
  });

  it('warns when the generator is CPU-bound, the server idles, or requests fail', () => {
    const warnings = findWarnings([
      record('vial', 0, 1, 1, { generatorCpu: 0.95 }),
      record('vial', 1, 1, 1, { serverCpu: 0.5 }),
      record('vial', 2, 1, 1, { serverCpu: 0.3 }),
      record('vial', 3, 1, 1, { errors: { connect: 0, read: 0, write: 0, timeout: 0, status: 7 } }),
    ]);
    assert.equal(warnings.length, 3);
    assert.match(warnings[0] ?? '', /round 1 vial: wrk used 95% of its core: the numbers are generator-bound/);
    assert.match(warnings[1] ?? '', /round 4 vial: 7 failed requests/);
    assert.match(warnings[2] ?? '', /^2\/4 runs: the server used only 30%\.\.50% of its core, so it was not saturated/);
  });
});

describe('bench profile summary', () => {
  it('sums self time per function over busy samples, leaving idle out', () => {
    const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(idle)') },
        { id: 2, callFrame: frame('send', 'file:///app/src/dispatch.ts', 268) },
        { id: 3, callFrame: frame('writeHead', 'node:_http_server', 407) },
      ],
      samples: [1, 2, 3, 2, 1],
      timeDeltas: [5000, 300, 100, 300, 5000],
    };
    const rows = selfTimes(profile, '/app');
    assert.deepEqual(
      rows.map((r) => [r.name, r.where, r.selfMs, r.share]),
      [
        ['send', 'src/dispatch.ts:269', 0.6, 600 / 700],
        ['writeHead', 'node:_http_server:408', 0.1, 100 / 700],
      ],
    );
  });

  it('groups locations into vial files, packages and Node internals', () => {
    assert.equal(area('src/dispatch.ts:269', 'send'), 'src/dispatch.ts');
    assert.equal(area('node_modules/@fastify/ajv-compiler/index.js:3', 'x'), '@fastify/ajv-compiler');
    assert.equal(area('node:_http_server:408', 'writeHead'), 'node:internal');
    assert.equal(area('', '(garbage collector)'), '(garbage collector)');
    assert.equal(area('', 'writeUtf8String'), '(native)');
  });
});

describe('bench scenarios', () => {
  it('loads the hello scenarios with vial and every anchor of its targets, the hook one with BENCH_HOOK on all', async () => {
    for (const name of ['hello', 'hello-async', 'hello-hook']) {
      const scenario = await loadScenario(join(benchDir, 'scenarios'), name);
      assert.deepEqual(
        scenario.systems.map((s) => s.name),
        ['vial', 'node:http+headers', 'fastify', 'fastify+headers', 'fastify-full'],
      );
      for (const system of scenario.systems) assert.ok(existsSync(join(benchDir, system.server)), system.server);
      // Every target names systems the scenario runs, so none is silently not applicable.
      const names = new Set(scenario.systems.map((s) => s.name));
      for (const target of scenario.targets ?? []) assert.ok(names.has(target.system) && names.has(target.of), target.label);
      assert.equal(scenario.systems.every((s) => s.env?.['BENCH_HOOK'] === '1'), name === 'hello-hook');
    }
  });

  it('names the available scenarios when one is missing', async () => {
    await assert.rejects(loadScenario(join(benchDir, 'scenarios'), 'nope'), (e: Error) => hasCode('VIAL_ERR_BENCH_SCENARIO')(e) && /Available: .*hello/.test(e.message));
    await assert.rejects(loadScenario(join(benchDir, 'scenarios'), '../run'), hasCode('VIAL_ERR_BENCH_SCENARIO'));
  });

  it('refuses a scenario without a load or run, or with duplicate system names', () => {
    const system = { name: 'a', server: 'servers/a.ts' };
    assert.throws(() => validateScenario({ name: 'x', description: '', systems: [system] }, 'x.ts'), /give it a `load` or a `run\(ctx\)`/);
    assert.throws(() => validateScenario({ name: 'x', description: '', systems: [system, system], load: { path: '/' } }, 'x.ts'), /appears twice/);
    assert.throws(() => validateScenario({ name: 'x', description: '', systems: [system], load: { path: 'x' } }, 'x.ts'), /load\.path/);
  });

  it('prints usage for --help and fails clearly for an unknown scenario', () => {
    const help = spawnSync(process.execPath, [join(benchDir, 'run.ts'), '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /usage: node bench\/run\.ts/);
    const missing = spawnSync(process.execPath, [join(benchDir, 'run.ts'), 'no-such-scenario', '--quick'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /VIAL_ERR_BENCH_SCENARIO: bench: no scenario "no-such-scenario"/);
  });
});

describe('bench processes', { timeout: 60_000 }, () => {
  const pinning: Pinning = detectPinning();
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'vial-bench-test-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('starts a server pinned, probes it, and stops it by pid', async () => {
    const server = await startServer({ name: 'node:http', server: 'servers/node-http.ts' }, { benchDir, pinning });
    try {
      assert.ok(server.port > 0);
      assert.equal(server.alive(), true);
      const answer = await probe(server.url, { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } });
      assert.equal(answer.body, '{"hello":"world"}');
      await assert.rejects(probe(server.url, { path: '/nope', expect: { status: 200 } }), hasCode('VIAL_ERR_BENCH_MISMATCH'));
    } finally {
      await server.stop();
    }
    assert.equal(server.alive(), false);
    assert.equal(readProc(server.pid), undefined);
  });

  it('waits for the whole ready line when the port arrives in pieces', async () => {
    const slow = join(tmp, 'slow-ready.ts');
    await writeFile(
      slow,
      [
        "import { createServer } from 'node:http';",
        "const server = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1', () => {",
        '  const port = String((server.address() as { port: number }).port);',
        "  process.stdout.write(`ready ${port.slice(0, 1)}`);",
        "  setTimeout(() => process.stdout.write(`${port.slice(1)}\\n`), 100);",
        '});',
        "process.once('SIGTERM', () => process.exit(0));",
      ].join('\n'),
    );
    const server = await startServer({ name: 'slow', server: slow }, { benchDir, pinning });
    try {
      assert.equal((await probe(server.url, { path: '/', expect: { status: 200, body: 'ok' } })).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('reports a server that exits before it is ready, with its output', async () => {
    const crash = join(tmp, 'crash.ts');
    await writeFile(crash, "console.error('cannot bind: boom');\nprocess.exit(3);\n");
    await assert.rejects(
      startServer({ name: 'crash', server: crash }, { benchDir, pinning }),
      (e: Error) => hasCode('VIAL_ERR_BENCH_SERVER')(e) && /exited \(code 3/.test(e.message) && /cannot bind: boom/.test(e.message),
    );
  });

  describe('load generators against a recording server', () => {
    let server: Server;
    let url = '';
    let first: { method: string | undefined; body: string; header: string | undefined } | undefined;
    before(async () => {
      server = createServer((req: IncomingMessage, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          first ??= { method: req.method, body: Buffer.concat(chunks).toString('utf8'), header: req.headers['x-bench'] as string | undefined };
          res.end(req.url === '/missing' ? '' : 'ok');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('runs wrk with the load\'s method, body and headers and measures its CPU', { skip: !existsSync(WRK_PATH) && 'wrk is not installed' }, async () => {
      first = undefined;
      const load = { path: '/echo', method: 'POST', body: 'a "quoted"\nbody é', headers: { 'x-bench': 'yes' } };
      const result = await runLoad({ url, load, durationSec: 1, connections: 2, generator: 'wrk', pinning });
      assert.deepEqual(first, { method: 'POST', body: 'a "quoted"\nbody é', header: 'yes' });
      assert.ok(result.requests > 0);
      assert.equal(result.errors.status + result.errors.connect, 0);
      assert.ok(Number.isFinite(result.generatorCpu) && result.generatorCpu >= 0);
      assert.ok(result.latencyMs.p99 >= result.latencyMs.p50);
    });

    it('falls back to autocannon with the same request shape', async () => {
      first = undefined;
      const load = { path: '/echo', method: 'PUT', body: 'x=1', headers: { 'x-bench': 'ac' } };
      const result = await runLoad({ url, load, durationSec: 1, connections: 2, generator: 'autocannon', pinning });
      assert.deepEqual(first, { method: 'PUT', body: 'x=1', header: 'ac' });
      assert.ok(result.requests > 0);
      assert.equal(result.generator, 'autocannon');
    });

    it('refuses a wrk-only load on autocannon', async () => {
      await assert.rejects(
        runLoad({ url, load: { path: '/', wrkScript: 'request = nil' }, durationSec: 1, connections: 1, generator: 'autocannon', pinning }),
        hasCode('VIAL_ERR_BENCH_LOAD'),
      );
    });
  });
});
