/**
 * `node bench/run.ts [scenario ...] [--rounds N] [--duration S] [--warmup S] [--connections C] [--quick]`
 *
 * Runs each scenario (default `hello`), prints its table, target checks and warnings to stdout
 * (progress goes to stderr), and writes the raw results to bench/results/<scenario>-<timestamp>.json.
 * Target checks are informational: the exit code is 0 unless something crashed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildVial } from './lib/build.ts';
import { renderChart } from './lib/chart.ts';
import type { ChartRow } from './lib/chart.ts';
import { detectGenerator } from './lib/load.ts';
import { parseArgs, resolveBenchOptions, USAGE } from './lib/options.ts';
import type { BenchConfig } from './lib/options.ts';
import { detectPinning } from './lib/proc.ts';
import { loadScenario } from './lib/scenarios.ts';
import { stopAllServers } from './lib/server.ts';
import { runStandard } from './lib/standard.ts';
import type { Generator, Pinning, RunContext, Scenario, ScenarioReport } from './lib/types.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(benchDir, 'results');
const say = (line: string): void => void process.stderr.write(`${line}\n`);
const print = (line: string): void => void process.stdout.write(`${line}\n`);

function hasSummaries(raw: unknown): raw is { summaries: readonly ChartRow[] } {
  return typeof raw === 'object' && raw !== null && Array.isArray((raw as { summaries?: unknown }).summaries);
}

async function main(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.help) {
    print(USAGE);
    return;
  }
  const config = resolveBenchOptions(args.options);
  const pinning = detectPinning();
  const generator = detectGenerator(config.forceAutocannon);
  for (const line of header(config, pinning, generator)) print(line);
  mkdirSync(resultsDir, { recursive: true });
  // Every scenario is found and checked before the build, so a typo fails at once.
  const scenarios: Scenario[] = [];
  for (const name of args.scenarios) scenarios.push(await loadScenario(join(benchDir, 'scenarios'), name));
  buildVial(benchDir, say);

  for (const scenario of scenarios) {
    const ctx: RunContext = { scenario, config, generator, pinning, benchDir, resultsDir, say };
    print('');
    print(`== ${scenario.name}: ${scenario.description}`);
    const startedAt = new Date();
    const loadBefore = loadavg();
    const report = scenario.run === undefined ? await runStandard(ctx) : await scenario.run(ctx);
    printReport(report);
    const file = join(resultsDir, `${scenario.name}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          scenario: scenario.name,
          description: scenario.description,
          startedAt: startedAt.toISOString(),
          finishedAt: new Date().toISOString(),
          machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavgBefore: loadBefore, loadavgAfter: loadavg() },
          generator,
          pinning,
          config,
          checks: report.checks,
          warnings: report.warnings,
          data: report.raw,
        },
        (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
        2,
      )}\n`,
    );
    print(`results: ${relative(process.cwd(), file)}`);
    // The same run as a chart (bench/chart.ts draws it again from the JSON, e.g. for the README).
    if (hasSummaries(report.raw)) {
      const chart = file.replace(/\.json$/, '.svg');
      writeFileSync(chart, renderChart({ scenario: scenario.name, startedAt: startedAt.toISOString(), machine: { node: process.version, cpus: cpus().length, loadavgBefore: loadBefore }, config, checks: report.checks, data: report.raw }));
      print(`chart: ${relative(process.cwd(), chart)}`);
    }
  }
}

function header(config: BenchConfig, pinning: Pinning, generator: Generator): string[] {
  const lines = [
    `vial bench  node ${process.version}  ${cpus().length} cpus  load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    `  ${config.rounds} round(s) x ${config.durationSec} s measured (+${config.warmupSec} s warm-up), ${config.connections} connections, generator ${generator}`,
    pinning.taskset === undefined
      ? '  NOT PINNED: taskset is missing or the machine has one CPU; server and generator share cores.'
      : `  server pinned to cpu ${pinning.serverCpu}, generator to cpu ${pinning.loadCpu} (taskset)`,
  ];
  if (generator === 'autocannon') {
    lines.push(
      config.forceAutocannon
        ? '  using autocannon (--autocannon): latencies are whole milliseconds, and it needs more CPU per request than wrk.'
        : '  wrk not found at /usr/bin/wrk: falling back to autocannon (apt-get install wrk for better numbers).',
    );
  }
  return lines;
}

function printReport(report: ScenarioReport): void {
  print('');
  for (const line of report.lines) print(line);
  if (report.checks.length > 0) print('');
  for (const check of report.checks) print(`${check.pass ? 'PASS' : 'FAIL'}  ${check.label}: ${check.detail}`);
  if (report.warnings.length > 0) print('');
  for (const warning of report.warnings) print(`WARN  ${warning}`);
}

let interrupted = false;
const interrupt = (signal: NodeJS.Signals): void => {
  if (interrupted) return;
  interrupted = true;
  say(`bench: ${signal}: stopping servers`);
  void stopAllServers().finally(() => process.exit(130));
};
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

try {
  await main(process.argv.slice(2));
} catch (error) {
  process.exitCode = 1;
  say(error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error));
  await stopAllServers();
}
