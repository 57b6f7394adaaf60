/**
 * `vial new DIR`: a minimal project that passes its test right after `npm install`: package.json
 * (depending on vial, with start/dev/test scripts), tsconfig.json, app.ts, app.test.ts, a README
 * with its own two commands, .gitignore. Refuses a folder that already has files in it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.ts';
import { optionError, shownPath } from './diagnose.ts';

const usage = `Usage: vial new <dir> [--vial SPEC]

Creates a minimal vial project in <dir>: app.ts, app.test.ts, package.json, tsconfig.json, README.md.
  --vial SPEC   the dependency to write for vial (default ^<this version>), e.g. a tarball from
                \`npm pack\`: --vial file:../vial-0.1.0.tgz`;

const OPTIONS = { help: { type: 'boolean', short: 'h' }, vial: { type: 'string' } } as const;

function ownVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** npm's rules for a package name, from the folder name: lower case, URL-safe. */
function packageName(dir: string): string {
  const name = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '');
  return name === '' ? 'vial-app' : name;
}

const APP = `import { Vial } from 'vial';

const app = new Vial();

app.get('/', () => ({ hello: 'world' }));

export default app;
`;

const TEST = `import { it } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from 'vial/testing';
import app from './app.ts';

it('says hello', async () => {
  const res = await new TestClient(app).get('/');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { hello: 'world' });
});
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2023',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    erasableSyntaxOnly: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
  },
  include: ['*.ts'],
};

function readme(name: string): string {
  return `# ${name}

A vial app. Needs Node 22.18 or later.

\`\`\`sh
npm install && npm start   # serves http://127.0.0.1:5000
npm test                   # runs app.test.ts
\`\`\`

\`npm run dev\` restarts on every save (\`vial run app.ts --reload\`); \`npx vial routes app.ts\` prints
the route table.
`;
}

function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    throw optionError('new', Object.keys(OPTIONS), error);
  }
  const { positionals, values } = parsed;
  if (values.help === true) {
    console.log(usage);
    return Promise.resolve(0);
  }
  const dir = positionals[0];
  if (dir === undefined) throw new ConfigError('VIAL_ERR_CLI', 'Name the folder to create, e.g. `vial new my-service`.');
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new ConfigError('VIAL_ERR_CLI', `${shownPath(resolve(dir))} already has files in it. Pick a new folder name, e.g. \`vial new my-service\`.`);
  }
  const name = packageName(dir);
  const manifest = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=22.18' },
    scripts: { start: 'vial run app.ts', dev: 'vial run app.ts --reload', test: 'node --test' },
    dependencies: { vial: values.vial ?? `^${ownVersion()}` },
  };
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(TSCONFIG, null, 2)}\n`,
    'app.ts': APP,
    'app.test.ts': TEST,
    'README.md': readme(name),
    '.gitignore': 'node_modules/\n',
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  console.log(`vial: created ${shownPath(resolve(dir))} (${Object.keys(files).join(', ')}). Next:\n\n  cd ${dir}\n  npm install && npm start\n  npm test`);
  return Promise.resolve(0);
}

export const newCommand = { usage, run };
