/**
 * Memory, the way issue 16 states it: idle RSS with every default on (vial under `app.listen()`, and
 * under `vial run` with its admin listener, both from the built package), RSS under the hello load,
 * and the bytes each hello request allocates on the JavaScript heap, next to Fastify and raw
 * node:http in the same run. Rounds interleave the systems (order rotates) like the standard
 * comparison; the table shows medians.
 *
 * Per system and round: start it pinned, wait `SETTLE_MS` for start-up timers to settle, read RSS
 * five times 200 ms apart (median: idle), send one GET /hello, wait `SERVED_SETTLE_MS` and read
 * again (idle after a request: what starts with the first request, vial's watchdog thread, is in
 * it), then open the allocation window (servers/alloc-probe.js, SIGUSR2), run wrk on /hello for
 * `--duration` s at `--connections`, close the window, and record the peak RSS seen during the
 * load and allocated bytes / requests answered.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { median, minMax } from '../lib/stats.ts';
import { formatTable, num } from '../lib/table.ts';
import type { Column } from '../lib/table.ts';
import { selected, vialRunSystem } from '../lib/kit.ts';
import { runLoad } from '../lib/load.ts';
import { readProc, sampleProcess, treeRssBytes } from '../lib/proc.ts';
import { probe, startServer } from '../lib/server.ts';
import type { StartedServer } from '../lib/server.ts';
import { rotate } from '../lib/standard.ts';
import type { CheckResult, LoadSpec, RunContext, Scenario, ScenarioReport, SystemSpec } from '../lib/types.ts';

const SETTLE_MS = 3000;
const SERVED_SETTLE_MS = 1000;
const MIB = 1024 * 1024;
const PROBE = new URL('../servers/alloc-probe.js', import.meta.url).pathname;
const LOAD: LoadSpec = { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } };

/** Every system loads the same allocation probe, so each pays the same few KiB for it. */
const withProbe = (system: SystemSpec): SystemSpec => ({ ...system, env: { ...system.env, NODE_OPTIONS: `--import=${PROBE}` } });

const SYSTEMS: readonly SystemSpec[] = [
  { name: 'vial', server: 'servers/vial.ts' },
  // --admin-port 0: a free port, so a run never collides with another listener on 9464.
  vialRunSystem('vial run (+admin)', 'hello-app.ts', 0, { VIAL_LOG_LEVEL: 'warn' }, ['--admin-port', '0']),
  { name: 'fastify', server: 'servers/fastify.ts' },
  { name: 'fastify+plugins', server: 'servers/fastify-full.ts' },
  { name: 'node:http', server: 'servers/node-http.ts' },
].map(withProbe);

interface FootprintRecord {
  readonly round: number;
  readonly system: string;
  readonly idleRssBytes: number;
  readonly servedIdleRssBytes: number;
  readonly loadPeakRssBytes: number;
  readonly requests: number;
  readonly rps: number;
  readonly allocatedBytes: number;
  readonly bytesPerRequest: number;
  readonly gcs: number;
}

/** The process that serves: the command external.ts started (it prints `child <pid>`), else the server. */
function servingPid(server: StartedServer): number {
  const match = /^child (\d+)$/m.exec(server.output());
  return match === null ? server.pid : Number(match[1]);
}

async function readAlloc(file: string): Promise<{ allocatedBytes: number; gcs: number }> {
  for (let i = 0; i < 50 && !existsSync(file); i++) await sleep(100);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { allocatedBytes: number; gcs: number };
  rmSync(file, { force: true });
  return parsed;
}

/** Five readings 200 ms apart (process and children). */
async function readRss(pid: number): Promise<number[]> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(treeRssBytes(pid));
    await sleep(200);
  }
  return readings;
}

async function measure(ctx: RunContext, system: SystemSpec, round: number): Promise<FootprintRecord> {
  const allocFile = join(tmpdir(), `vial-bench-alloc-${process.pid}-${round}-${system.name.replace(/\W+/g, '_')}.json`);
  const server = await startServer({ ...system, env: { ...system.env, BENCH_ALLOC_FILE: allocFile } }, { benchDir: ctx.benchDir, pinning: ctx.pinning, readyTimeoutMs: 40_000 });
  try {
    const pid = servingPid(server);
    await sleep(SETTLE_MS);
    const idle = await readRss(pid);
    await probe(server.url, LOAD);
    await sleep(SERVED_SETTLE_MS);
    const served = await readRss(pid);
    process.kill(pid, 'SIGUSR2');
    const sampler = sampleProcess(pid);
    const load = await runLoad({ url: server.url, load: LOAD, durationSec: ctx.config.durationSec, connections: ctx.config.connections, generator: ctx.generator, pinning: ctx.pinning });
    const usage = sampler.stop();
    process.kill(pid, 'SIGUSR2');
    const { allocatedBytes, gcs } = await readAlloc(allocFile);
    if (readProc(pid) === undefined) throw new Error(`bench: ${system.name} exited during the run.\n${server.output()}`);
    const answered = load.requests - load.errors.status;
    ctx.say(`  round ${round + 1}  ${system.name.padEnd(18)} idle ${num(median(idle) / MIB, 1)} MiB  after 1 request ${num(median(served) / MIB, 1)} MiB  load peak ${num(usage.peakRssBytes / MIB, 1)} MiB  ${num(allocatedBytes / answered)} B/req  ${num(load.rps)} req/s`);
    return {
      round, system: system.name, idleRssBytes: median(idle), servedIdleRssBytes: median(served), loadPeakRssBytes: usage.peakRssBytes, requests: answered, rps: load.rps,
      allocatedBytes, bytesPerRequest: allocatedBytes / answered, gcs,
    };
  } finally {
    await server.stop();
    rmSync(allocFile, { force: true });
  }
}

interface FootprintSummary {
  readonly system: string;
  readonly idleMiB: number;
  readonly idleMin: number;
  readonly idleMax: number;
  readonly servedIdleMiB: number;
  readonly loadPeakMiB: number;
  readonly bytesPerRequest: number;
  readonly rps: number;
}

const COLUMNS: readonly Column<FootprintSummary>[] = [
  { title: 'system', value: (s) => s.system },
  { title: 'idle RSS MiB', value: (s) => num(s.idleMiB, 1) },
  { title: 'min..max', value: (s) => `${num(s.idleMin, 1)}..${num(s.idleMax, 1)}` },
  { title: 'idle after 1 request', value: (s) => num(s.servedIdleMiB, 1) },
  { title: 'RSS under load MiB', value: (s) => num(s.loadPeakMiB, 1) },
  { title: 'heap B/request', value: (s) => num(s.bytesPerRequest) },
  { title: 'req/s', value: (s) => num(s.rps) },
];

function summarise(records: readonly FootprintRecord[]): FootprintSummary[] {
  return SYSTEMS.map(({ name }) => {
    const runs = records.filter((r) => r.system === name);
    const idle = minMax(runs.map((r) => r.idleRssBytes / MIB));
    return {
      system: name,
      idleMiB: median(runs.map((r) => r.idleRssBytes / MIB)),
      idleMin: idle.min,
      idleMax: idle.max,
      servedIdleMiB: median(runs.map((r) => r.servedIdleRssBytes / MIB)),
      loadPeakMiB: median(runs.map((r) => r.loadPeakRssBytes / MIB)),
      bytesPerRequest: median(runs.map((r) => r.bytesPerRequest)),
      rps: median(runs.map((r) => r.rps)),
    };
  });
}

function checks(summaries: readonly FootprintSummary[]): CheckResult[] {
  const by = new Map(summaries.map((s) => [s.system, s]));
  const fastify = by.get('fastify');
  if (fastify === undefined) return [];
  const out: CheckResult[] = [];
  for (const name of ['vial', 'vial run (+admin)']) {
    const s = by.get(name);
    if (s === undefined) continue;
    out.push({ label: `${name} idle RSS <= fastify + 5 MiB`, pass: s.idleMiB <= fastify.idleMiB + 5, detail: `${num(s.idleMiB, 1)} vs ${num(fastify.idleMiB, 1)} + 5 MiB (${s.idleMiB >= fastify.idleMiB ? '+' : ''}${num(s.idleMiB - fastify.idleMiB, 1)})` });
  }
  const vial = by.get('vial');
  if (vial !== undefined) {
    out.push({ label: 'vial RSS under the hello load <= fastify', pass: vial.loadPeakMiB <= fastify.loadPeakMiB, detail: `${num(vial.loadPeakMiB, 1)} vs ${num(fastify.loadPeakMiB, 1)} MiB` });
    out.push({ label: 'vial heap bytes per hello request <= fastify', pass: vial.bytesPerRequest <= fastify.bytesPerRequest, detail: `${num(vial.bytesPerRequest)} vs ${num(fastify.bytesPerRequest)} B` });
  }
  return out;
}

const scenario: Scenario = {
  name: 'footprint',
  description: 'idle RSS (app.listen() and `vial run` with admin), RSS under the hello load, heap bytes allocated per hello request',
  systems: SYSTEMS,
  async run(ctx: RunContext): Promise<ScenarioReport> {
    const records: FootprintRecord[] = [];
    for (let round = 0; round < ctx.config.rounds; round++) {
      for (const system of rotate(SYSTEMS, round)) if (selected(system.name)) records.push(await measure(ctx, system, round));
    }
    const summaries = summarise(records);
    return {
      lines: [
        ...formatTable(COLUMNS, summaries),
        '',
        `idle: median of 5 readings ${SETTLE_MS / 1000} s after "ready" (process and children); idle after 1 request: the same, ${SERVED_SETTLE_MS / 1000} s after one GET /hello; under load: peak during ${ctx.config.durationSec} s of wrk at ${ctx.config.connections} connections on GET /hello;`,
        'heap B/request: bytes the V8 heap allocated during that load (v8.GCProfiler, servers/alloc-probe.js) / 2xx answers. Medians over rounds.',
        'vial run (+admin): `node dist/cli/main.js run hello-app.ts --admin-port 0`, one process; vial: app.listen() from dist/.',
        'vial run\'s "idle" already follows a request (servers/external.ts polls GET /fast until it answers), so its watchdog thread runs in both idle columns; vial\'s starts with the first request.',
      ],
      checks: checks(summaries),
      warnings: [],
      // Not `summaries`: run.ts draws its req/cpu-s chart from a raw.summaries, which these rows are not.
      raw: { records, footprint: summaries },
    };
  },
};

export default scenario;
