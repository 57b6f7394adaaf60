/**
 * What scenario authors use. A custom `run(ctx)` builds on these: start servers pinned, probe them,
 * run wrk, sample a pid's CPU and memory, summarise and print.
 */
export type { CheckResult, Generator, LoadSpec, Metric, Pinning, RunContext, Scenario, ScenarioReport, SystemSpec, TargetSpec } from './types.ts';
export type { BenchConfig, BenchOptions } from './options.ts';
export { resolveBenchOptions } from './options.ts';
export { probe, startServer, stopAllServers } from './server.ts';
export type { ProbeResult, StartedServer, StartOptions } from './server.ts';
export { detectGenerator, runLoad } from './load.ts';
export type { LoadResult, LoadRunOptions } from './load.ts';
export { buildWrkScript, luaString, parseWrkOutput, parseAutocannonJson } from './wrk.ts';
export type { LatencyMs, LoadErrors, ParsedLoad } from './wrk.ts';
export { readProc, sampleProcess } from './proc.ts';
export type { ProcSample, ProcSampler, ProcUsage } from './proc.ts';
export { measureSystem, rotate, runStandard } from './standard.ts';
export type { Measurement, MeasureOptions, StandardRaw } from './standard.ts';
export { checkTargets, errorCount, FRAMEWORK_TARGETS, findWarnings, renderSummary, summarise } from './summary.ts';
export type { RunRecord, SystemSummary } from './summary.ts';
export { median, minMax, percentile, ratio } from './stats.ts';
export { formatTable, num, pct, times } from './table.ts';
export type { Column } from './table.ts';
