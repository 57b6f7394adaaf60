/**
 * Keeps docs/errors.md and the code in step (as Fastify does): every VIAL_ERR_* code raised in
 * src/ is documented, and every documented code still exists.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { VialError, HttpError, abort } from '../src/index.ts';

const root = new URL('..', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function codesIn(text: string): Set<string> {
  // VIAL_ERR_HTTP_<status> is built from the status and documented as a pattern.
  return new Set([...text.matchAll(/VIAL_ERR_[A-Z0-9_]*[A-Z0-9]/g)].map((m) => m[0]).filter((c) => c !== 'VIAL_ERR_HTTP' && !/^VIAL_ERR_HTTP_\d+$/.test(c)));
}

describe('error codes', () => {
  const codeInSource = new Set<string>();
  // src/error-codes.ts is the registry itself: the codes raised are those anywhere else in src/.
  const registryFile = join(root, 'src/error-codes.ts');
  for (const file of sourceFiles(join(root, 'src'))) if (file !== registryFile) for (const code of codesIn(readFileSync(file, 'utf8'))) codeInSource.add(code);
  const registered = codesIn(readFileSync(registryFile, 'utf8'));
  const documented = codesIn(readFileSync(join(root, 'docs/errors.md'), 'utf8'));

  it('documents every code raised in src/', () => {
    const missing = [...codeInSource].filter((code) => !documented.has(code)).sort();
    assert.deepEqual(missing, [], `add these to docs/errors.md: ${missing.join(', ')}`);
  });

  it('registers in VialErrorCodes exactly the codes raised, so a mistyped code fails to compile', () => {
    assert.deepEqual([...codeInSource].filter((code) => !registered.has(code)).sort(), [], 'add these to src/error-codes.ts');
    assert.deepEqual([...registered].filter((code) => !codeInSource.has(code)).sort(), [], 'remove these from src/error-codes.ts');
  });

  it('documents no code that no longer exists', () => {
    const stale = [...documented].filter((code) => !codeInSource.has(code)).sort();
    assert.deepEqual(stale, [], `remove these from docs/errors.md: ${stale.join(', ')}`);
  });

  it('gives abort() an HttpError with the status, a code and exposure only for 4xx', () => {
    assert.throws(() => abort(404), (error: unknown) => error instanceof HttpError && error.status === 404 && error.code === 'VIAL_ERR_HTTP_404' && error.expose);
    assert.throws(() => abort(502), (error: unknown) => error instanceof VialError && error.status === 502 && !error.expose);
  });
});
