/**
 * The scenario plug-in shape. A scenario is one file in bench/scenarios/ whose default export is a
 * `Scenario`: either a declarative `load` (run.ts interleaves the systems over rounds and compares
 * them) or its own `run(ctx)` built from the helpers in bench/lib/. Types only.
 */
import type { BenchConfig } from './options.ts';

export interface SystemSpec {
  /** Shown in tables and used in ratios and targets: `vial`, `fastify`, `node:http`. */
  readonly name: string;
  /** The server module, relative to bench/ (`servers/vial.ts`) or absolute. It must print `ready <port>`. */
  readonly server: string;
  /** Passed after the port: `node <server> <port> ...args`. */
  readonly args?: readonly string[];
  /** Added to the inherited environment (NODE_ENV=production is always set). */
  readonly env?: Readonly<Record<string, string>>;
  /** Node flags for this server, e.g. `--max-old-space-size=128`. */
  readonly nodeArgs?: readonly string[];
  /**
   * Whose CPU and memory count: the server process (default), or its whole process tree (`vial run
   * --workers N`: the supervisor and its workers, started through servers/external.ts).
   */
  readonly measure?: 'process' | 'tree';
}

export interface LoadSpec {
  readonly path: string;
  /** Default GET. */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Overrides `--connections` for this load. */
  readonly connections?: number;
  /**
   * Extra Lua for wrk, appended after the request setup (e.g. a `request()` that varies the path per
   * call). Must not define `done()`: the harness uses it to read exact percentiles. autocannon
   * ignores it, so the harness refuses a scenario that needs it when wrk is missing.
   */
  readonly wrkScript?: string;
  /** Checked once per server before any load: a system that answers differently is not comparable. */
  readonly expect?: { readonly status?: number; readonly body?: string };
}

export type Metric = 'rps' | 'rpsPerCpu' | 'p50Ms' | 'p99Ms';

/** `system.metric op factor * of.metric`, e.g. vial rps >= 1.05 x fastify rps. */
export interface TargetSpec {
  readonly label: string;
  readonly system: string;
  readonly metric: Metric;
  readonly op: '>=' | '<=';
  readonly factor: number;
  readonly of: string;
}

export interface CheckResult {
  readonly label: string;
  readonly pass: boolean;
  /** What was measured, e.g. `41200 req/s vs 1.05 x 39000 = 40950`. */
  readonly detail: string;
}

/** What a scenario hands back: printed lines, target checks, warnings, and the raw data for the JSON file. */
export interface ScenarioReport {
  readonly lines: readonly string[];
  readonly checks: readonly CheckResult[];
  readonly warnings: readonly string[];
  readonly raw: unknown;
}

export type Generator = 'wrk' | 'autocannon';

export interface Pinning {
  /** `taskset` when it exists and the machine has two or more CPUs; otherwise nothing is pinned. */
  readonly taskset: string | undefined;
  readonly serverCpu: number;
  readonly loadCpu: number;
}

export interface RunContext {
  readonly scenario: Scenario;
  readonly config: BenchConfig;
  readonly generator: Generator;
  readonly pinning: Pinning;
  /** bench/ itself: server paths resolve against it. */
  readonly benchDir: string;
  /** Where profiles and extra artefacts go (bench/results/). */
  readonly resultsDir: string;
  /** Progress output (stderr), so stdout stays the report. */
  readonly say: (line: string) => void;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly systems: readonly SystemSpec[];
  /** Declarative load: run.ts runs the standard interleaved comparison with it. */
  readonly load?: LoadSpec;
  /** Checked on the standard comparison's medians (informational: never changes the exit code). */
  readonly targets?: readonly TargetSpec[];
  /** Custom run: takes over from the standard comparison. */
  readonly run?: (ctx: RunContext) => Promise<ScenarioReport>;
}
