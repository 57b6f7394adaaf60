/**
 * `vial run --reload` as a real process on a temporary app: a change to a file the app imports
 * is served by the next request on the same port; a broken save keeps the last good version
 * answering and shows the error with its code frame; fixing it recovers. Refused in production.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getText } from './helpers/net.ts';
import { listeningPort, run, stopAll } from './helpers/cli.ts';
import type { Proc } from './helpers/cli.ts';

const BIN = fileURLToPath(new URL('../bin/vial.js', import.meta.url));
const INDEX = new URL('../src/index.ts', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'vial-reload-'));
const agent = new Agent({ keepAlive: false });

after(() => {
  stopAll();
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function vial(args: string[], nodeEnv: string): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: nodeEnv };
  for (const name of Object.keys(env)) if (name.startsWith('VIAL_')) delete env[name];
  return run(process.execPath, [BIN, ...args], { cwd: dir, env });
}

function greet(text: string): void {
  writeFileSync(join(dir, 'greet.ts'), text);
}

/** GETs / until the body matches, bounded: the reload takes one worker start. */
async function answerMatching(port: number, pattern: RegExp): Promise<string> {
  let last = '';
  for (let i = 0; i < 150; i++) {
    const res = await getText(port, '/', agent);
    last = `${res.status} ${res.text}`;
    if (pattern.test(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`no answer matching ${pattern}; last was ${last}`);
}

before(() => {
  writeFileSync(join(dir, 'app.ts'), `import { Vial } from '${INDEX}';\nimport { greeting } from './greet.ts';\nconst app = new Vial();\napp.get('/', () => ({ greeting, pid: process.pid }));\nexport default app;\n`);
  greet("export const greeting = 'one';\n");
  writeFileSync(join(dir, 'unrelated.ts'), 'export {};\n');
});

describe('vial run --reload', () => {
  it('serves a change, keeps the old version through a broken save, and recovers', async () => {
    const v = vial(['run', 'app.ts', '--reload', '--port', '0'], 'development');
    const port = await listeningPort(v);
    const first = JSON.parse((await answerMatching(port, /"one"/)).slice(4)) as { pid: number };

    greet("export const greeting = 'two';\n");
    const second = JSON.parse((await answerMatching(port, /"two"/)).slice(4)) as { pid: number };
    assert.notEqual(second.pid, first.pid, 'a new process serves the new version');
    await v.waitFor(/greet\.ts changed/);

    greet('export const greeting: string = ;\n');
    await v.waitFor(/greet\.ts:1:33: Expression expected/);
    await v.waitFor(/> 1 \| export const greeting: string = ;/);
    await v.waitFor(/the previous one keeps serving/);
    const during = JSON.parse((await getText(port, '/', agent)).text) as { greeting: string; pid: number };
    assert.deepEqual(during, { greeting: 'two', pid: second.pid });

    greet("export const greeting = 'three';\n");
    await answerMatching(port, /"three"/);

    // A file in the folder that the app does not import starts nothing.
    const reloads = v.lines.filter((l) => /changed; starting/.test(l)).length;
    writeFileSync(join(dir, 'unrelated.ts'), 'export const x = 1;\n');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(v.lines.filter((l) => /changed; starting/.test(l)).length, reloads);

    v.child.kill('SIGTERM');
    assert.equal(await v.exitCode(), 0, v.text());
  });

  it('is refused in production, exit 1', async () => {
    const v = vial(['run', 'app.ts', '--reload', '--port', '0'], 'production');
    assert.equal(await v.exitCode(), 1);
    assert.match(v.text(), /--reload is for development/);
  });
});
