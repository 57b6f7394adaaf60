/**
 * vial's bench servers load the built package (servers/vial-package.ts), so the harness builds it
 * first with the project's own `npm run build`: a figure must never come from a stale dist/.
 * Skipped with `BENCH_VIAL_FROM=src` (the servers then load the sources), or with
 * `BENCH_NO_BUILD=1` when dist/ was just built by hand.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { VialError } from '../../src/errors.ts';

/** Where `vial` (the CLI) lives for `vial run` systems: dist/cli/main.js, or the sources. */
export function vialCli(benchDir: string): string {
  return process.env['BENCH_VIAL_FROM'] === 'src' ? join(benchDir, '../src/cli/main.ts') : join(benchDir, '../dist/cli/main.js');
}

export function buildVial(benchDir: string, say: (line: string) => void): void {
  if (process.env['BENCH_VIAL_FROM'] === 'src') {
    say('bench: BENCH_VIAL_FROM=src: vial runs from its TypeScript sources, not the built package');
    return;
  }
  if (process.env['BENCH_NO_BUILD'] === '1') {
    say('bench: BENCH_NO_BUILD=1: vial servers load dist/ as it is');
    return;
  }
  const root = dirname(benchDir);
  const started = performance.now();
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], timeout: 180_000 });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8') ?? '';
    throw new VialError('VIAL_ERR_BENCH_SERVER', `bench: \`npm run build\` failed, so vial cannot run from its package:\n${stderr.slice(-2000)}`, { cause: error });
  }
  say(`bench: built vial (npm run build, ${((performance.now() - started) / 1000).toFixed(1)} s); vial servers load dist/`);
}
