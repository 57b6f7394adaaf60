/**
 * vial as users run it: the built package (`npm run build` -> dist/), not the TypeScript sources.
 * Running the .ts sources adds Node's type stripping (the amaro wasm heap, ~18 MiB of RSS before
 * the app loads) and compiles each module on start, neither of which an installed vial pays, so
 * every vial bench server loads vial through here. The types are the sources' (dist/ may not exist
 * when the repo is type-checked); the harness builds dist/ before a run (bench/lib/build.ts).
 *
 * `BENCH_VIAL_FROM=src` loads the sources instead (to profile a change without rebuilding).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type VialModule = typeof import('../../src/index.ts');

const fromSource = process.env['BENCH_VIAL_FROM'] === 'src';
const entry = new URL(fromSource ? '../../src/index.ts' : '../../dist/index.js', import.meta.url);
if (!fromSource && !existsSync(fileURLToPath(entry))) {
  throw new Error(`bench: ${fileURLToPath(entry)} is missing: run \`npm run build\` first (node bench/run.ts does it for you).`);
}

export const vial = (await import(entry.href)) as VialModule;
