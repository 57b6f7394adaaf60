/**
 * Running the load generator as its own process, pinned to the load CPU, while sampling its CPU use:
 * if wrk itself needs a whole core, the numbers measure wrk, not the server.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VialError } from '../../src/errors.ts';
import { pinned, runSampledChild } from './proc.ts';
import type { Generator, LoadSpec, Pinning } from './types.ts';
import { buildWrkScript, parseAutocannonJson, parseWrkOutput } from './wrk.ts';
import type { ParsedLoad } from './wrk.ts';

export const WRK_PATH = '/usr/bin/wrk';

/** wrk when installed (Debian's `wrk` package), autocannon from node_modules otherwise. */
export function detectGenerator(forceAutocannon = false): Generator {
  return !forceAutocannon && existsSync(WRK_PATH) ? 'wrk' : 'autocannon';
}

export interface LoadRunOptions {
  /** The server's base URL; `load.path` is appended. */
  readonly url: string;
  readonly load: LoadSpec;
  readonly durationSec: number;
  readonly connections: number;
  readonly generator: Generator;
  readonly pinning: Pinning;
}

export interface LoadResult extends ParsedLoad {
  readonly generator: Generator;
  /** The generator's average share of one core during the run (1 = a full core). */
  readonly generatorCpu: number;
  /** The generator's raw stdout, kept for the results file. */
  readonly output: string;
}

/** Runs one load and resolves with its numbers; rejects if the generator fails or hangs. */
export async function runLoad(options: LoadRunOptions): Promise<LoadResult> {
  const { load, generator } = options;
  if (generator === 'autocannon' && load.wrkScript !== undefined) {
    throw new VialError('VIAL_ERR_BENCH_LOAD', 'bench: this load needs wrk (it has a wrkScript). Install wrk (`apt-get install wrk`).');
  }
  const dir = generator === 'wrk' ? await mkdtemp(join(tmpdir(), 'vial-bench-')) : undefined;
  try {
    let command: string;
    let args: string[];
    const target = `${options.url}${load.path}`;
    if (dir !== undefined) {
      const script = join(dir, 'load.lua');
      await writeFile(script, buildWrkScript(load));
      // One thread: wrk's threads share the one load CPU, so more would only add contention.
      command = WRK_PATH;
      args = ['-t1', `-c${options.connections}`, `-d${options.durationSec}s`, '--latency', '-s', script, target];
    } else {
      command = process.execPath;
      args = [autocannonBin(), '--json', '--no-progress', '-c', String(options.connections), '-d', String(options.durationSec), '-m', load.method ?? 'GET'];
      for (const [name, value] of Object.entries(load.headers ?? {})) args.push('-H', `${name}=${value}`);
      if (load.body !== undefined) args.push('-b', load.body);
      args.push(target);
    }
    const [file, fileArgs] = pinned(options.pinning, options.pinning.loadCpu, command, args);
    const { stdout, stderr, code, cpu } = await runSampledChild(file, fileArgs, (options.durationSec + 30) * 1000);
    const parsed = generator === 'wrk' ? parseWrkOutput(stdout) : parseAutocannonJson(stdout);
    if (code !== 0 || parsed === undefined) {
      throw new VialError('VIAL_ERR_BENCH_LOAD', `bench: ${generator} against ${target} failed (exit ${String(code)}).\n${stderr}${stdout}`.trimEnd());
    }
    return { ...parsed, generator, generatorCpu: cpu, output: stdout };
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

function autocannonBin(): string {
  return join(createRequire(import.meta.url).resolve('autocannon/package.json'), '..', 'autocannon.js');
}
