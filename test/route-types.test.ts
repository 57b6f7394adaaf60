/**
 * The type tests in test/types/ must fail where they say they do. `npm run typecheck` compiles them
 * as written (an unneeded `@ts-expect-error` is an error there); this test compiles a copy with every
 * directive removed and checks that tsc reports an error on exactly the lines that carried one, so a
 * type that stopped refusing a wrong call (or refuses a right one) fails the suite.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'test/.types-check');
after(() => rmSync(dir, { recursive: true, force: true }));

it('reports a type error on every line the type tests mark with @ts-expect-error, and nowhere else', () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const expected = new Set<string>();
  for (const name of readdirSync(join(root, 'test/types')).filter((f) => f.endsWith('.ts'))) {
    const lines = readFileSync(join(root, 'test/types', name), 'utf8').split('\n');
    const out = lines.map((line, i) => {
      if (!line.trim().startsWith('// @ts-expect-error')) return line;
      expected.add(`${name}:${i + 2}`);
      return '';
    });
    // Same relative depth as test/types/, so its imports resolve unchanged.
    writeFileSync(join(dir, name), out.join('\n'));
  }
  assert.ok(expected.size >= 12, `expected the type tests to mark the calls that must not compile, found ${expected.size}`);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', include: ['*.ts'] }));
  let output = '';
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    output = (error as { stdout?: string }).stdout ?? String(error);
  }
  const reported = new Set([...output.matchAll(/\.types-check\/([\w.-]+\.ts)\((\d+),\d+\): error/g)].map((m) => `${m[1]}:${m[2]}`));
  assert.deepEqual([...reported].sort(), [...expected].sort(), `tsc output:\n${output}`);
});
