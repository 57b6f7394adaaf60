/**
 * `npm run build` (and `prepack`): compiles src/ into dist/ with tsc, then copies the files tsc
 * does not emit (the dashboard's HTML, CSS and script) next to the compiled modules that read them
 * by `new URL('./dashboard/...', import.meta.url)`. dist/ is removed first so that a module deleted
 * from src/ does not live on in the package.
 *
 * tsc runs with --noCheck: the output is the same byte for byte and three times faster (the
 * package-install test packs on every run), and `npm run typecheck` is where types are checked,
 * on every landing and in CI.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--noCheck'], { stdio: 'inherit' });

const assets = readdirSync(src, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile() && !entry.name.endsWith('.ts'));
for (const entry of assets) {
  const from = join(entry.parentPath, entry.name);
  const to = join(dist, relative(src, from));
  cpSync(from, to);
  console.log(`build: copied ${relative(root, from)} -> ${relative(root, to)}`);
}
