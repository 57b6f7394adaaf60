/**
 * ws-echo: 1,000 WebSocket connections, each in a ping-pong loop (send a 64-byte text message,
 * wait for its echo, send the next), against vial's WebSocket plugin, raw `ws` on node:http and
 * Fastify with @fastify/websocket. Echoes per second, round-trip p50/p99, and echoes per
 * CPU-second of the server over the measured window (the fair figure on a shared machine); then,
 * on a fresh server, the resident memory one idle open socket costs (RSS before and after 1,000
 * idle sockets open, divided). The systems are interleaved over `--rounds`, order rotated.
 */
import { isQuick, ms, selected, withSystem } from '../lib/kit.ts';
import { rotate } from '../lib/standard.ts';
import { median, ratio } from '../lib/stats.ts';
import { formatTable, num, pct, times } from '../lib/table.ts';
import { runWsEcho, runWsIdle } from '../lib/ws-run.ts';
import type { WsEchoResult, WsIdleResult } from '../lib/ws-run.ts';
import type { CheckResult, RunContext, Scenario, ScenarioReport } from '../lib/index.ts';

const CONNECTIONS = 1000;
const MESSAGE_BYTES = 64;
const BASELINE = 'ws';

const scenario: Scenario = {
  name: 'ws-echo',
  description: `WebSocket echo, ${CONNECTIONS} connections in ping-pong loops (${MESSAGE_BYTES}-byte text): echoes/s, p99, echoes per server CPU-second; RSS per idle open socket`,
  systems: [
    { name: 'vial', server: 'servers/ws-vial.ts' },
    { name: BASELINE, server: 'servers/ws-raw.ts' },
    { name: 'fastify', server: 'servers/ws-fastify.ts' },
  ],
  run,
};

interface RoundRecord {
  readonly round: number;
  readonly system: string;
  readonly echo: WsEchoResult;
  readonly idle: WsIdleResult | undefined;
}

interface Row {
  readonly system: string;
  readonly rounds: number;
  readonly perSec: number;
  readonly perCpuSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpu: number;
  readonly generatorCpu: number;
  readonly errors: number;
  readonly bytesPerIdleSocket: number;
}

function summarise(system: string, records: readonly RoundRecord[]): Row {
  const own = records.filter((r) => r.system === system);
  const m = (f: (r: RoundRecord) => number): number => median(own.map(f));
  return {
    system,
    rounds: own.length,
    perSec: m((r) => r.echo.report.messagesPerSec),
    perCpuSec: m((r) => r.echo.report.messagesPerSec / r.echo.serverCpu),
    p50Ms: m((r) => r.echo.report.latencyMs.p50),
    p99Ms: m((r) => r.echo.report.latencyMs.p99),
    serverCpu: m((r) => r.echo.serverCpu),
    generatorCpu: m((r) => r.echo.generatorCpu),
    errors: own.reduce((n, r) => n + r.echo.report.errors + r.echo.report.mismatches, 0),
    bytesPerIdleSocket: m((r) => r.idle?.bytesPerSocket ?? Number.NaN),
  };
}

async function run(ctx: RunContext): Promise<ScenarioReport> {
  const { rounds, durationSec, warmupSec } = ctx.config;
  const systems = ctx.scenario.systems.filter((s) => selected(s.name));
  const records: RoundRecord[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    for (const system of rotate(systems, round - 1)) {
      ctx.say(`  round ${round}/${rounds}: ${system.name}`);
      const echo = await withSystem(ctx, system, '/health', (server) =>
        runWsEcho(
          { url: `ws://127.0.0.1:${server.port}/echo`, connections: CONNECTIONS, warmupMs: warmupSec * 1000, durationMs: durationSec * 1000, messageBytes: MESSAGE_BYTES },
          server.pid,
          ctx.pinning,
        ),
      );
      if (echo === undefined) continue;
      // A fresh server: the echo window's garbage would otherwise be reused by the idle sockets and hide their cost.
      const idle = await withSystem(ctx, system, '/health', (server) => runWsIdle(`ws://127.0.0.1:${server.port}/echo`, CONNECTIONS, server.pid, ctx.pinning));
      records.push({ round, system: system.name, echo, idle });
    }
  }

  const rows = systems.map((s) => summarise(s.name, records));
  const base = rows.find((r) => r.system === BASELINE);
  const vial = rows.find((r) => r.system === 'vial');
  const lines = [
    `${CONNECTIONS} connections, each: send ${MESSAGE_BYTES} bytes of text, wait for the echo, send the next; ${warmupSec} s warm-up, ${durationSec} s measured; medians of ${rounds} round(s)`,
    '',
    ...formatTable<Row>(
      [
        { title: 'system', value: (r) => r.system },
        { title: 'echoes/s', value: (r) => num(r.perSec) },
        { title: `vs ${BASELINE}`, value: (r) => times(ratio(r.perSec, base?.perSec ?? Number.NaN)) },
        { title: 'echoes/cpu-s', value: (r) => num(r.perCpuSec) },
        { title: `vs ${BASELINE}`, value: (r) => times(ratio(r.perCpuSec, base?.perCpuSec ?? Number.NaN)) },
        { title: 'p50 ms', value: (r) => ms(r.p50Ms) },
        { title: 'p99 ms', value: (r) => ms(r.p99Ms) },
        { title: 'server cpu', value: (r) => pct(r.serverCpu) },
        { title: 'gen cpu', value: (r) => pct(r.generatorCpu) },
        { title: 'errors', value: (r) => String(r.errors) },
        { title: 'KiB/idle socket', value: (r) => num(r.bytesPerIdleSocket / 1024, 1) },
      ],
      rows,
    ),
    '',
    'echoes/cpu-s = echoes per second of the server\'s own CPU time over the measured window; KiB/idle socket = the',
    `server's RSS after ${CONNECTIONS} idle sockets opened on a fresh server, minus before, divided by ${CONNECTIONS}; errors = sockets`,
    'that failed or closed early plus echoes that differed from what was sent.',
  ];

  const checks: CheckResult[] = [];
  if (vial !== undefined && base !== undefined) {
    checks.push({
      label: `vial echoes/cpu-s >= 0.9x ${BASELINE}`,
      pass: vial.perCpuSec >= 0.9 * base.perCpuSec,
      detail: `${num(vial.perCpuSec)} vs 0.9 x ${num(base.perCpuSec)} = ${num(0.9 * base.perCpuSec)} (${times(ratio(vial.perCpuSec, base.perCpuSec))})`,
    });
    checks.push({
      label: `vial echoes/s >= 0.9x ${BASELINE} (informational: the machine is shared)`,
      pass: vial.perSec >= 0.9 * base.perSec,
      detail: `${num(vial.perSec)} vs 0.9 x ${num(base.perSec)} = ${num(0.9 * base.perSec)} (${times(ratio(vial.perSec, base.perSec))})`,
    });
  }
  const warnings: string[] = [];
  for (const row of rows) {
    if (row.generatorCpu > 0.9) warnings.push(`generator-bound during ${row.system}: the load generator used ${pct(row.generatorCpu)} of its core, so echoes/s measures it too (echoes/cpu-s still compares the servers)`);
    if (row.serverCpu < 0.8) {
      warnings.push(`${row.system}: the server got only ${pct(row.serverCpu)} of its core (other processes on a shared machine, or the generator): read echoes/cpu-s, not echoes/s`);
    }
    if (row.errors > 0) warnings.push(`${row.system}: ${row.errors} socket error(s) or mismatched echo(es)`);
  }
  if (isQuick(ctx)) warnings.push('--quick: a smoke run, not a measurement');
  return { lines, checks, warnings, raw: { connections: CONNECTIONS, messageBytes: MESSAGE_BYTES, rows, records } };
}

export default scenario;
