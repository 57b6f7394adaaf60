/**
 * What `vial` prints when it cannot start, as real processes on the bin a user runs: a syntax
 * error as file:line:column with a code frame, an exception at import with the app's own stack
 * frames (vial's and Node's left out), a taken port with the holder's pid and the --port advice,
 * an unknown option or command with the closest real one and where the help is.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, stopAll } from './helpers/cli.ts';
import type { Proc } from './helpers/cli.ts';

const BIN = fileURLToPath(new URL('../bin/vial.js', import.meta.url));
const INDEX = new URL('../src/index.ts', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'vial-cli-errors-'));

after(() => {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
});

/** The bin, from `dir` (so paths print relative to it), in development. */
function vial(args: string[]): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development' };
  for (const name of Object.keys(env)) if (name.startsWith('VIAL_')) delete env[name];
  return run(process.execPath, [BIN, ...args], { cwd: dir, env });
}

before(() => {
  writeFileSync(join(dir, 'app.ts'), `import { Vial } from '${INDEX}';\nconst app = new Vial();\napp.get('/', () => 'ok');\nexport default app;\n`);
  writeFileSync(join(dir, 'syntax.ts'), `import { Vial } from '${INDEX}';\nconst app = new Vial();\nconst limit: number = ;\nexport default app;\n`);
  writeFileSync(join(dir, 'db.ts'), "export function connect(): never {\n  throw new Error('DATABASE_URL is not set');\n}\n");
  writeFileSync(join(dir, 'throws.ts'), `import { Vial } from '${INDEX}';\nimport { connect } from './db.ts';\nconnect();\nexport default new Vial();\n`);
  writeFileSync(join(dir, 'bad-option.ts'), `import { Vial } from '${INDEX}';\n\nexport default new Vial({ port: -1 });\n`);
});

describe('a syntax error in the app', () => {
  it('is shown as file:line:column with a code frame, exit 1', async () => {
    const v = vial(['run', 'syntax.ts', '--port', '0']);
    assert.equal(await v.exitCode(), 1);
    const text = v.text();
    assert.match(text, /vial: syntax\.ts:3:23: Expression expected/);
    assert.match(text, /> 3 \| const limit: number = ;\n {4}\| {23}\^\n/);
    assert.match(text, / {2}2 \| const app = new Vial\(\);/);
    assert.match(text, /Fix the syntax error/);
  });

  it('is shown the same way by `vial routes`', async () => {
    const v = vial(['routes', 'syntax.ts']);
    assert.equal(await v.exitCode(), 1);
    assert.match(v.text(), /syntax\.ts:3:23: Expression expected/);
  });
});

describe('an exception while the app is imported', () => {
  it("prints the stack through the app's own files, exit 1", async () => {
    const v = vial(['run', 'throws.ts', '--port', '0']);
    assert.equal(await v.exitCode(), 1);
    const text = v.text();
    assert.match(text, /throws\.ts threw while it was imported/);
    assert.match(text, /Error: DATABASE_URL is not set/);
    assert.match(text, /at connect \(db\.ts:2:9\)/);
    assert.match(text, /throws\.ts:3:1/);
    assert.doesNotMatch(text, /node:internal|src\/cli\//);
  });

  it("leaves vial's own frames out of an error vial raised, keeping the app's line", async () => {
    const v = vial(['run', 'bad-option.ts', '--port', '0']);
    assert.equal(await v.exitCode(), 1);
    const text = v.text();
    assert.match(text, /port must be an integer from 0 to 65535/);
    assert.match(text, /bad-option\.ts:3:\d+/);
    assert.doesNotMatch(text, /src\/(config|app)\.ts/);
  });
});

describe('a taken port', () => {
  it("names the holder's pid and says to use --port, exit 1", async () => {
    const holder = run(process.execPath, ['-e', "const s = require('node:net').createServer(); s.listen(0, '127.0.0.1', () => console.log('port ' + s.address().port));"]);
    const port = Number(/port (\d+)/.exec(await holder.waitFor(/^port \d+$/))![1]);
    const v = vial(['run', 'app.ts', '--port', String(port), '--no-admin']);
    assert.equal(await v.exitCode(), 1);
    const text = v.text();
    assert.match(text, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use by pid ${holder.child.pid}\\b`));
    assert.match(text, /--port N/);
    assert.match(text, /--port 0 picks a free one/);
  });
});

describe('an unknown option or command', () => {
  it('names the closest option and `vial run --help`, exit 1', async () => {
    const v = vial(['run', 'app.ts', '--prot', '5000']);
    assert.equal(await v.exitCode(), 1);
    assert.match(v.text(), /vial run has no option --prot\. Did you mean --port\? Run "vial run --help" for the options\./);
  });

  it('says how to get help when nothing is close', async () => {
    const v = vial(['routes', 'app.ts', '--verbose']);
    assert.equal(await v.exitCode(), 1);
    const text = v.text();
    assert.match(text, /vial routes has no option --verbose\. Run "vial routes --help"/);
    assert.doesNotMatch(text, /Did you mean/);
  });

  it('says which option lacks its value', async () => {
    const v = vial(['run', 'app.ts', '--port']);
    assert.equal(await v.exitCode(), 1);
    assert.match(v.text(), /--port <value>' argument missing\. Run "vial run --help"/);
  });

  it('names the closest command', async () => {
    const v = vial(['rn', 'app.ts']);
    assert.equal(await v.exitCode(), 1);
    assert.match(v.text(), /unknown command "rn"\. Did you mean "vial run"\?/);
  });
});
