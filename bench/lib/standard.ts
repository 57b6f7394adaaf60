/**
 * The standard comparison: every system, fresh server per run, interleaved over rounds in rotating
 * order (so a burst of noise from other processes, or thermal drift, spreads over all systems instead
 * of landing on one), warm-up then measurement, medians over rounds.
 */
import { join } from 'node:path';
import { VialError } from '../../src/errors.ts';
import { runLoad } from './load.ts';
import type { LoadResult } from './load.ts';
import { sampleProcess } from './proc.ts';
import type { ProcUsage } from './proc.ts';
import { probe, startServer } from './server.ts';
import { checkTargets, findWarnings, renderSummary, summarise } from './summary.ts';
import type { RunRecord, SystemSummary } from './summary.ts';
import { num, pct } from './table.ts';
import type { LoadSpec, RunContext, ScenarioReport, SystemSpec } from './types.ts';

/** Round `round`'s order: the list rotated by `round`. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export interface MeasureOptions {
  readonly round: number;
  readonly order: number;
  readonly connections?: number;
}

export interface Measurement {
  readonly load: LoadResult;
  readonly server: ProcUsage;
}

/**
 * One run: start `system` pinned, check it answers `load` correctly, warm up, measure while sampling
 * the server's CPU and memory, stop it by pid. The server is stopped even if the run fails.
 */
export async function measureSystem(ctx: RunContext, system: SystemSpec, load: LoadSpec, options: MeasureOptions): Promise<Measurement> {
  const { config } = ctx;
  const safeName = system.name.replace(/[^\w.-]+/g, '_');
  const server = await startServer(system, {
    benchDir: ctx.benchDir,
    pinning: ctx.pinning,
    ...(config.cpuProf
      ? { cpuProfDir: join(ctx.resultsDir, 'profiles'), profileName: `${ctx.scenario.name}-${safeName}-r${options.round + 1}.cpuprofile` }
      : {}),
  });
  try {
    await probe(server.url, load).catch(async (error: unknown) => {
      if (error instanceof VialError) throw error;
      await server.stop();
      throw new VialError(
        'VIAL_ERR_BENCH_SERVER',
        `bench: ${system.name} did not answer ${load.method ?? 'GET'} ${load.path} (${String(error)}).\n--- its output ---\n${server.output()}`,
        { cause: error },
      );
    });
    const base = {
      url: server.url,
      load,
      connections: options.connections ?? load.connections ?? config.connections,
      generator: ctx.generator,
      pinning: ctx.pinning,
    };
    if (config.warmupSec > 0) await runLoad({ ...base, durationSec: config.warmupSec });
    const sampler = sampleProcess(server.pid, undefined, system.measure === 'tree');
    const result = await runLoad({ ...base, durationSec: config.durationSec }).catch((error: unknown) => {
      sampler.stop();
      throw error;
    });
    const usage = sampler.stop();
    if (!server.alive()) {
      throw new VialError('VIAL_ERR_BENCH_SERVER', `bench: ${system.name} exited during the run.\n--- its output ---\n${server.output()}`);
    }
    return { load: result, server: usage };
  } finally {
    await server.stop();
  }
}

export interface StandardRaw {
  readonly load: LoadSpec;
  readonly records: readonly RunRecord[];
  readonly summaries: readonly SystemSummary[];
}

/** The whole comparison for `load` (default: the scenario's). Custom scenarios may call it too. */
export async function runStandard(ctx: RunContext, load: LoadSpec | undefined = ctx.scenario.load): Promise<ScenarioReport> {
  if (load === undefined) {
    throw new VialError('VIAL_ERR_BENCH_SCENARIO', `bench: scenario "${ctx.scenario.name}" has neither a load nor a run(ctx). Give it one.`);
  }
  const { systems } = ctx.scenario;
  const { rounds } = ctx.config;
  const records: RunRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = rotate(systems, round);
    for (const [position, system] of order.entries()) {
      const { load: r, server } = await measureSystem(ctx, system, load, { round, order: position });
      records.push({
        round,
        order: position,
        system: system.name,
        generator: r.generator,
        // Answers with the expected status only: a 503 from a system that sheds at saturation is not
        // a served request, and counting it would make shedding look like speed.
        rps: r.durationSec > 0 ? Math.max(0, r.requests - r.errors.status) / r.durationSec : r.rps,
        requests: r.requests,
        durationSec: r.durationSec,
        latencyMs: r.latencyMs,
        errors: r.errors,
        generatorCpu: r.generatorCpu,
        serverCpu: server.cpu,
        serverPeakRssBytes: server.peakRssBytes,
      });
      ctx.say(
        `  round ${round + 1}/${rounds}  ${system.name.padEnd(10)} ${num(r.rps).padStart(8)} req/s  p99 ${num(r.latencyMs.p99, 2)} ms  ` +
          `server cpu ${pct(server.cpu)}, ${r.generator} cpu ${pct(r.generatorCpu)}`,
      );
    }
  }
  const summaries = summarise(
    systems.map((s) => s.name),
    records,
  );
  const raw: StandardRaw = { load, records, summaries };
  return {
    lines: renderSummary(summaries),
    checks: checkTargets(summaries, ctx.scenario.targets ?? []),
    warnings: findWarnings(records),
    raw,
  };
}
