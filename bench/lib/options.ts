/**
 * Bench options and the command line. Pure: no I/O; `parseArgs` gets argv, `resolveBenchOptions`
 * fills defaults, checks bounds and freezes.
 */
import { ConfigError } from '../../src/errors.ts';

export interface BenchOptions {
  /** Interleaved rounds per system; the table shows medians over rounds. */
  rounds?: number;
  /** Measured seconds per run. */
  durationSec?: number;
  /** Unmeasured seconds of load before each measured run (JIT, connection setup). */
  warmupSec?: number;
  /** Concurrent keep-alive connections the generator holds open. */
  connections?: number;
  /** Write a V8 CPU profile per server run to bench/results/profiles/ (`node --cpu-prof`). */
  cpuProf?: boolean;
  /** Use autocannon even when wrk exists (to compare generators). */
  forceAutocannon?: boolean;
}

export type BenchConfig = Readonly<Required<BenchOptions>>;

export const BENCH_DEFAULTS: BenchConfig = Object.freeze({
  rounds: 5,
  durationSec: 5,
  warmupSec: 2,
  connections: 100,
  cpuProf: false,
  forceAutocannon: false,
});

/** `--quick`: one round of 2 s, for a smoke test rather than a measurement. */
export const QUICK: BenchOptions = Object.freeze({ rounds: 1, durationSec: 2, warmupSec: 1 });

const BOUNDS = {
  rounds: [1, 50],
  durationSec: [1, 600],
  warmupSec: [0, 120],
  connections: [1, 10_000],
} as const;

export function resolveBenchOptions(partial: BenchOptions = {}): BenchConfig {
  const config = { ...BENCH_DEFAULTS, ...partial };
  for (const [key, [min, max]] of Object.entries(BOUNDS)) {
    const value = config[key as keyof typeof BOUNDS];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(
        'VIAL_ERR_BENCH_OPTIONS',
        `bench: ${key} must be an integer from ${min} to ${max}, got ${String(value)}. Run \`node bench/run.ts --help\` for the options.`,
      );
    }
  }
  return Object.freeze(config);
}

export interface ParsedArgs {
  readonly scenarios: readonly string[];
  readonly options: BenchOptions;
  readonly help: boolean;
}

const NUMERIC_FLAGS: Readonly<Record<string, keyof typeof BOUNDS>> = {
  '--rounds': 'rounds',
  '--duration': 'durationSec',
  '--warmup': 'warmupSec',
  '--connections': 'connections',
};

/** `[scenario ...] [--rounds N] [--duration S] [--warmup S] [--connections C] [--quick] [--cpu-prof] [--autocannon]` */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const scenarios: string[] = [];
  let options: BenchOptions = {};
  const explicit: BenchOptions = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const numeric = NUMERIC_FLAGS[flag];
    if (numeric !== undefined) {
      const raw = inline ?? argv[++i];
      if (raw === undefined || raw.trim() === '' || !Number.isFinite(Number(raw))) {
        throw new ConfigError('VIAL_ERR_BENCH_OPTIONS', `bench: ${flag} needs a number, e.g. \`${flag} 5\`.`);
      }
      explicit[numeric] = Number(raw);
    } else if (flag === '--quick') options = { ...options, ...QUICK };
    else if (flag === '--cpu-prof') explicit.cpuProf = true;
    else if (flag === '--autocannon') explicit.forceAutocannon = true;
    else if (flag === '--help' || flag === '-h') help = true;
    else if (flag.startsWith('-')) {
      throw new ConfigError('VIAL_ERR_BENCH_OPTIONS', `bench: unknown option ${flag}. Run \`node bench/run.ts --help\` for the options.`);
    } else scenarios.push(arg);
  }
  // Intentionally, explicit flags win over --quick whatever their order: `--quick --rounds 3` means 3.
  return { scenarios: scenarios.length === 0 ? ['hello'] : scenarios, options: { ...options, ...explicit }, help };
}

export const USAGE = `usage: node bench/run.ts [scenario ...] [options]      (npm run bench -- [scenario ...] [options])

  scenario           a file in bench/scenarios/ without .ts (default: hello)
  --rounds N         interleaved rounds per system (default ${BENCH_DEFAULTS.rounds})
  --duration S       measured seconds per run (default ${BENCH_DEFAULTS.durationSec})
  --warmup S         unmeasured seconds before each run (default ${BENCH_DEFAULTS.warmupSec})
  --connections C    concurrent connections (default ${BENCH_DEFAULTS.connections})
  --quick            1 round, 2 s, 1 s warm-up: a smoke test, not a measurement
  --cpu-prof         write a V8 CPU profile per server run to bench/results/profiles/
  --autocannon       use autocannon even when wrk is installed
`;
