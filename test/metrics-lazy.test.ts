/**
 * prom-client costs ~20 MiB of RSS at import (issue 16), so vial loads it on the first scrape only
 * (observe/metrics.ts). Checked in a fresh process, the only place where "not loaded yet" means
 * anything: this test runner has long since imported it through other suites' modules.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const src = (path: string): string => new URL(`../src/${path}`, import.meta.url).href;

// Runs in the child: records every prom-client module resolved, at each step of an app's life.
const CHILD = `
import { registerHooks } from 'node:module';
const loaded = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (resolved.url.includes('/node_modules/prom-client/')) loaded.add(resolved.url);
    return resolved;
  },
});
const { Vial } = await import(${JSON.stringify(src('index.ts'))});
const { startAdmin } = await import(${JSON.stringify(src('admin/server.ts'))});
const steps = {};
const app = new Vial({ env: 'production', allowedHosts: ['127.0.0.1'], log: { level: 'warn' } });
app.get('/hello', () => ({ hello: 'world' }));
const running = await app.listen({ port: 0, host: '127.0.0.1' });
await (await fetch(running.url + '/hello')).text();
steps.afterRequest = loaded.size;
// As listen() starts it with admin on: the app's own metrics, created at listen().
const admin = await startAdmin(app, { port: 0, metrics: app.monitors.metrics });
await (await fetch(admin.url + '/healthz')).text();
steps.afterHealthz = loaded.size;
const metrics = await (await fetch(admin.url + '/metrics')).text();
steps.afterScrape = loaded.size;
steps.countsTheRequest = /vial_http_requests_total\\{[^}]*route="GET \\/hello"[^}]*\\} 1/.test(metrics);
await admin.close();
await running.close();
process.stdout.write('\\nsteps ' + JSON.stringify(steps) + '\\n');
`;

describe('prom-client loading', () => {
  it('is not imported by listen, requests or the admin listener until the first scrape, which still counts earlier requests', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD], { timeout: 60_000, env: { ...process.env, NODE_ENV: 'production' } });
    const line = /^steps (.*)$/m.exec(stdout);
    assert.ok(line !== null, `the child printed no result:\n${stdout}`);
    const steps = JSON.parse(line[1] as string) as { afterRequest: number; afterHealthz: number; afterScrape: number; countsTheRequest: boolean };
    assert.equal(steps.afterRequest, 0, 'prom-client was loaded by listen() or a request');
    assert.equal(steps.afterHealthz, 0, 'prom-client was loaded by the admin listener before any scrape');
    assert.ok(steps.afterScrape > 0, 'the scrape did not load prom-client (is the hook seeing it?)');
    assert.equal(steps.countsTheRequest, true, 'the first scrape did not count the request served before prom-client was loaded');
  });
});
