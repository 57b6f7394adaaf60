/**
 * The README's TypeScript examples type-check against the real API, so they stay runnable as the
 * code changes. Each ```ts block becomes a file (a block starting with `// name.ts` gets that name,
 * so later blocks can import it); names a block uses from 'vial' without importing them, and an
 * `app` it uses without creating one, come from a short prelude, as the README's prose implies.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import * as vial from '../src/index.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, '.readme-check');
after(() => rmSync(dir, { recursive: true, force: true }));

function blocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
}

function withPrelude(code: string): string {
  const imported = new Set([...code.matchAll(/import\s*\{([^}]*)\}\s*from\s*'vial(?:\/testing)?'/g)].flatMap((m) => (m[1] as string).split(',').map((s) => s.trim())));
  const missing = Object.keys(vial).filter((name) => !imported.has(name) && new RegExp(`\\b${name}\\b`).test(code));
  const definesApp = /\b(const|let)\s+app\b|import app\b/.test(code);
  const needsApp = !definesApp && /\bapp\./.test(code);
  if (needsApp && !missing.includes('Vial') && !imported.has('Vial')) missing.push('Vial');
  let prelude = missing.length > 0 ? `import { ${missing.join(', ')} } from 'vial';\n` : '';
  if (needsApp) prelude += 'const app = new Vial();\n';
  return `${prelude}${code}\nexport {};\n`;
}

/** Writes each ```ts block of `markdown` into its own directory and type-checks them together. */
function typecheckBlocks(markdown: string, name: string, minBlocks: number): void {
  const found = blocks(readFileSync(join(root, markdown), 'utf8'));
  assert.ok(found.length >= minBlocks, `expected ${markdown} to have TypeScript examples, found ${found.length}`);
  const out = join(dir, name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  found.forEach((code, i) => {
    const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(code)?.[1];
    writeFileSync(join(out, named ?? `block-${i + 1}.ts`), withPrelude(code));
  });
  writeFileSync(
    join(out, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../tsconfig.json',
      compilerOptions: { paths: { vial: ['../../src/index.ts'], 'vial/testing': ['../../src/testing.ts'], 'vial/client': ['../../src/client.ts'] } },
      include: ['*.ts'],
    }),
  );
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(out, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const text = (error as { stdout?: string }).stdout ?? String(error);
    assert.fail(`${markdown} examples do not type-check:\n${text}`);
  }
}

it('type-checks every TypeScript example in the README against the real API', () => {
  typecheckBlocks('README.md', 'readme', 5);
});

it('type-checks every TypeScript example in docs/schemas.md against the real API', () => {
  typecheckBlocks('docs/schemas.md', 'schemas', 5);
});
