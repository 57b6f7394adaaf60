/**
 * vial as a user installs it: `npm pack` (which builds dist/ through `prepack`), the tarball
 * installed into a fresh temporary project, and there, on Node 24 and on Node 22, the README's first
 * app (it imports 'vial') served by `npx vial run`, its route table from `npx vial routes`, the
 * dashboard page from the admin listener, and the README's test (it imports 'vial/testing') passing
 * under `node --test`.
 *
 * The install is `npm ci --offline` with a lockfile made from this repository's own (vial's
 * dependencies as `npm ci` here resolved them, plus the tarball), so it is served from the npm cache
 * that installing this repository filled: no network, and a few seconds instead of a registry
 * round trip per package.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getText } from './helpers/net.ts';
import { listeningPort, run, servingPid, stopAll } from './helpers/cli.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const NODES = { 24: join(root, 'node_modules/node/bin/node'), 22: join(root, 'node_modules/node22/bin/node') };
const dir = mkdtempSync(join(tmpdir(), 'vial-install-'));
const project = join(dir, 'my-service');
const agent = new Agent({ keepAlive: false });

after(() => {
  stopAll();
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of a user whose `node` is `nodeBinary`: it comes first on PATH. */
function envFor(nodeBinary: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dirname(nodeBinary)}:${process.env['PATH'] ?? ''}`, NODE_ENV: 'development' };
  for (const name of Object.keys(env)) if (name.startsWith('VIAL_') || name.startsWith('npm_')) delete env[name];
  delete env['NODE_OPTIONS'];
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

/** The ```ts block of README.md that starts with `first` (or contains it). */
function readmeBlock(find: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!).find((code) => code.includes(find));
  assert.ok(block !== undefined, `README.md has no TypeScript example containing ${find}`);
  return block;
}

/** What `npm ci` needs to install the tarball from the cache: vial's dependency tree from our lockfile. */
function lockfileFor(projectDir: string, name: string, tarball: string): object {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const integrity = `sha512-${createHash('sha512').update(readFileSync(join(projectDir, tarball))).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name, version: '0.1.0', dependencies: { vial: `file:${tarball}` } },
    'node_modules/vial': {
      version: manifest['version'],
      resolved: `file:${tarball}`,
      integrity,
      license: manifest['license'],
      dependencies: manifest['dependencies'],
      bin: manifest['bin'],
      engines: manifest['engines'],
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && entry.dev !== true) packages[path] = entry;
  return { name, version: '0.1.0', lockfileVersion: 3, requires: true, packages };
}

let tarball = '';

/** `npm ci` from the cache, as the README's `npm install` would from the registry. */
function installFromCache(projectDir: string, name: string): void {
  writeFileSync(join(projectDir, 'package-lock.json'), JSON.stringify(lockfileFor(projectDir, name, tarball), null, 2));
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: projectDir, env: envFor(NODES[24]), stdio: ['ignore', 'ignore', 'inherit'] });
}

before(() => {
  const env = envFor(NODES[24]);
  execFileSync('mkdir', ['-p', project]);
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  tarball = packed.trim().split('\n').at(-1)!;
  assert.match(tarball, /^vial-.*\.tgz$/);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-service', version: '0.1.0', private: true, type: 'module', dependencies: { vial: `file:${tarball}` } }, null, 2));
  installFromCache(project, 'my-service');
  writeFileSync(join(project, 'app.ts'), readmeBlock('// app.ts\n'));
  writeFileSync(join(project, 'app.test.ts'), readmeBlock("from 'vial/testing'"));
});

for (const [version, node] of Object.entries(NODES)) {
  describe(`the installed package on Node ${version}`, () => {
    const env = envFor(node);

    it('uses that Node', () => {
      assert.match(execFileSync('node', ['--version'], { env, encoding: 'utf8' }), new RegExp(`^v${version}\\.`));
    });

    it('serves the app with `npx vial run`, and the dashboard on the admin listener', async () => {
      const vial = run('npx', ['vial', 'run', 'app.ts', '--port', '0', '--admin-port', '0'], { cwd: project, env });
      const port = await listeningPort(vial, 'vial listening on ');
      const hello = await getText(port, '/hello', agent);
      assert.equal(hello.status, 200);
      assert.deepEqual(JSON.parse(hello.text), { hello: 'world' });
      const adminPort = await listeningPort(vial, 'admin listening url=');
      const dashboard = await getText(adminPort, '/', agent);
      assert.equal(dashboard.status, 200);
      assert.match(dashboard.text, /<title>[^<]*vial[^<]*<\/title>/i);
      // npx does not pass signals on: SIGTERM goes to the server, as a process manager's would.
      process.kill(await servingPid(vial), 'SIGTERM');
      assert.equal(await vial.exitCode(), 0, vial.text());
    });

    it('prints the route table with `npx vial routes`', async () => {
      const routes = run('npx', ['vial', 'routes', 'app.ts'], { cwd: project, env });
      assert.equal(await routes.exitCode(), 0, routes.text());
      const paths = routes.lines.filter((l) => /^(GET|POST)\s/.test(l)).map((l) => l.split(/\s+/).slice(0, 2).join(' '));
      assert.deepEqual(paths.sort(), ['GET /admin', 'GET /hello', 'GET /users/<int:id>', 'POST /go']);
    });

    it("passes the app's own test (it imports 'vial/testing') with `node --test`", async () => {
      const test = run('node', ['--test'], { cwd: project, env });
      assert.equal(await test.exitCode(), 0, test.text());
      assert.match(test.text(), /\bpass 1\b/);
    });
  });
}

/** The Dockerfile's CMD in docs/deploy.md: the start command the deploy guide tells users to run. */
function deployCommand(): string[] {
  const doc = readFileSync(join(root, 'docs/deploy.md'), 'utf8');
  const line = /^CMD (\[.*\])$/m.exec(doc)?.[1];
  assert.ok(line !== undefined, 'docs/deploy.md has a Dockerfile with a CMD ["node", ...] line');
  return JSON.parse(line) as string[];
}

describe('the start command of docs/deploy.md, from the installed package', () => {
  it('serves in production with workers, answers the request in flight at SIGTERM, and exits 0', async () => {
    const [command, ...args] = deployCommand();
    assert.equal(command, 'node', 'the guide starts vial with node itself (npx does not pass SIGTERM on)');
    assert.deepEqual(args.slice(0, 3), ['node_modules/vial/bin/vial.js', 'run', 'app.ts']);
    // The documented flags, with a free port instead of 5000 (the host stays 0.0.0.0).
    const portAt = args.indexOf('--port');
    args[portAt + 1] = '0';
    // A slow route added to the README's app, to have a request in flight during the drain.
    const app = `${readmeBlock('// app.ts\n').replace(/export default app;\s*$/, '')}
app.get('/slow', async () => {
  console.log('slow request started');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return { slow: true };
});
export default app;
`;
    writeFileSync(join(project, 'deploy-app.ts'), app);
    args[2] = 'deploy-app.ts';
    const env = { ...envFor(NODES[24]), NODE_ENV: 'production', VIAL_ALLOWED_HOSTS: '127.0.0.1', VIAL_ADMIN_PORT: '0' };
    const vial = run(command, args, { cwd: project, env });
    const line = await vial.waitFor(/primary listening on http:\/\/0\.0\.0\.0:\d+/);
    const port = Number(/:(\d+) /.exec(line)![1]);
    const hello = await getText(port, '/hello', agent);
    assert.equal(hello.status, 200, hello.text);
    const slow = getText(port, '/slow', agent);
    await vial.waitFor(/slow request started/);
    // The pid the test started is vial's primary itself: the signal reaches it directly.
    process.kill(vial.child.pid!, 'SIGTERM');
    const answered = await slow;
    assert.equal(answered.status, 200, answered.text);
    assert.deepEqual(JSON.parse(answered.text), { slow: true });
    assert.equal(await vial.exitCode(), 0, vial.text());
  });
});

describe('`vial new` from the installed package', () => {
  const fresh = join(dir, 'hello');

  before(() => {
    execFileSync('npx', ['vial', 'new', fresh, '--vial', `file:${tarball}`], { cwd: project, env: envFor(NODES[24]), stdio: ['ignore', 'ignore', 'inherit'] });
    copyFileSync(join(project, tarball), join(fresh, tarball));
    installFromCache(fresh, 'hello');
  });

  it('writes a README with its own two commands', () => {
    const readme = readFileSync(join(fresh, 'README.md'), 'utf8');
    assert.match(readme, /npm install && npm start/);
    assert.match(readme, /npm test/);
  });

  // On Node 24 only: the install above already ran the same package on 22, and this file keeps
  // within its minute.
  it('passes its test right after install (npm test)', async () => {
    const test = run('npm', ['test', '--silent'], { cwd: fresh, env: envFor(NODES[24]) });
    assert.equal(await test.exitCode(), 0, test.text());
    assert.match(test.text(), /\bpass 1\b/);
  });

  it('serves its app with `npm start`', async () => {
    const start = run('npm', ['start', '--silent', '--', '--port', '0', '--no-admin'], { cwd: fresh, env: envFor(NODES[24]) });
    const port = await listeningPort(start, 'vial listening on ');
    assert.deepEqual(JSON.parse((await getText(port, '/', agent)).text), { hello: 'world' });
    process.kill(await servingPid(start), 'SIGTERM');
    assert.equal(await start.exitCode(), 0, start.text());
  });
});
