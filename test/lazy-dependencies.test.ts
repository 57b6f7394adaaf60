/**
 * Dependencies an app may never use are loaded when it first needs them, not with vial (issue 16:
 * idle RSS): prom-client on the first scrape (observe/metrics.ts), ajv, ajv-formats and
 * fast-json-stringify when schemas are compiled (schema/compile.ts, schema/route.ts). Checked in
 * fresh processes, the only place where "not loaded yet" means anything: this test runner has
 * long since imported them through other suites' modules.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const src = (path: string): string => new URL(`../src/${path}`, import.meta.url).href;

/** The start of a child script: `loaded(name)` counts the modules of package `name` resolved so far. */
const RECORDER = `
import { registerHooks } from 'node:module';
const resolvedUrls = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    resolvedUrls.add(resolved.url);
    return resolved;
  },
});
const loaded = (name) => [...resolvedUrls].filter((url) => url.includes('/node_modules/' + name + '/')).length;
`;

/** Runs `script` after the recorder in a fresh Node process and returns the JSON it printed on its `steps` line. */
async function inChild<T>(script: string): Promise<T> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', RECORDER + script], { timeout: 60_000, env: { ...process.env, NODE_ENV: 'production' } });
  const line = /^steps (.*)$/m.exec(stdout);
  assert.ok(line !== null, `the child printed no result:\n${stdout}`);
  return JSON.parse(line[1] as string) as T;
}

// Each step of an app's life, up to and after the first scrape.
const METRICS_CHILD = `
const { Vial } = await import(${JSON.stringify(src('index.ts'))});
const { startAdmin } = await import(${JSON.stringify(src('admin/server.ts'))});
const steps = {};
const app = new Vial({ env: 'production', allowedHosts: ['127.0.0.1'], log: { level: 'warn' } });
app.get('/hello', () => ({ hello: 'world' }));
const running = await app.listen({ port: 0, host: '127.0.0.1' });
await (await fetch(running.url + '/hello')).text();
steps.afterRequest = loaded('prom-client');
// As listen() starts it with admin on: the app's own metrics, created at listen().
const admin = await startAdmin(app, { port: 0, metrics: app.monitors.metrics });
await (await fetch(admin.url + '/healthz')).text();
steps.afterHealthz = loaded('prom-client');
const metrics = await (await fetch(admin.url + '/metrics')).text();
steps.afterScrape = loaded('prom-client');
steps.countsTheRequest = /vial_http_requests_total\\{[^}]*route="GET \\/hello"[^}]*\\} 1/.test(metrics);
await admin.close();
await running.close();
process.stdout.write('\\nsteps ' + JSON.stringify(steps) + '\\n');
`;

describe('prom-client loading', () => {
  it('is not imported by listen, requests or the admin listener until the first scrape, which still counts earlier requests', async () => {
    const steps = await inChild<{ afterRequest: number; afterHealthz: number; afterScrape: number; countsTheRequest: boolean }>(METRICS_CHILD);
    assert.equal(steps.afterRequest, 0, 'prom-client was loaded by listen() or a request');
    assert.equal(steps.afterHealthz, 0, 'prom-client was loaded by the admin listener before any scrape');
    assert.ok(steps.afterScrape > 0, 'the scrape did not load prom-client (is the hook seeing it?)');
    assert.equal(steps.countsTheRequest, true, 'the first scrape did not count the request served before prom-client was loaded');
  });
});

const SCHEMA_PACKAGES = ['ajv', 'ajv-formats', 'fast-json-stringify'];

const SCHEMA_CHILD = `
const { Vial, schemas } = await import(${JSON.stringify(src('index.ts'))});
const { TestClient } = await import(${JSON.stringify(src('testing.ts'))});
const counts = () => Object.fromEntries(${JSON.stringify(SCHEMA_PACKAGES)}.map((name) => [name, loaded(name)]));
const steps = {};
const plain = new Vial({ env: 'production', allowedHosts: ['127.0.0.1'], log: { level: 'warn' } });
plain.get('/hello', () => ({ hello: 'world' }));
const running = await plain.listen({ port: 0, host: '127.0.0.1' });
await (await fetch(running.url + '/hello')).text();
await running.close();
steps.withoutSchemas = counts();
const typed = new Vial({ env: 'production', allowedHosts: ['127.0.0.1'], log: { level: 'warn' } });
typed.plugin(schemas);
const Todo = { type: 'object', properties: { id: { type: 'integer' }, title: { type: 'string' } }, required: ['id', 'title'] };
typed.post('/todos', { schema: { body: Todo, response: { 201: Todo } } }, (ctx) => ctx.valid.body);
const reply = await new TestClient(typed).post('/todos', { json: { id: 1, title: 'milk', extra: true } });
steps.withSchemas = counts();
steps.reply = { status: reply.status, body: reply.text };
process.stdout.write('\\nsteps ' + JSON.stringify(steps) + '\\n');
`;

describe('schema dependencies', () => {
  it('are not imported by an app without schemas, and are by the first one that compiles some, which then validates and serializes', async () => {
    const steps = await inChild<{ withoutSchemas: Record<string, number>; withSchemas: Record<string, number>; reply: { status: number; body: string } }>(SCHEMA_CHILD);
    for (const name of SCHEMA_PACKAGES) {
      assert.equal(steps.withoutSchemas[name], 0, `${name} was loaded by an app that uses no schemas`);
      assert.ok((steps.withSchemas[name] ?? 0) > 0, `${name} was not loaded by an app with a JSON Schema body and response`);
    }
    assert.deepEqual(steps.reply, { status: 201, body: '{"id":1,"title":"milk"}' });
  });
});

const PER_FEATURE_CHILD = `
const { Vial, websocket } = await import(${JSON.stringify(src('index.ts'))});
const steps = {};
const plain = new Vial({ env: 'production', allowedHosts: ['127.0.0.1'], log: { level: 'warn' } });
plain.plugin(websocket);
plain.get('/hello', () => ({ hello: 'world' }));
plain.post('/form', { csrf: false }, async (ctx) => ({ name: (await ctx.request.form()).fields.get('name') }));
const running = await plain.listen({ port: 0, host: '127.0.0.1' });
await (await fetch(running.url + '/hello')).text();
steps.idle = { ws: loaded('ws'), busboy: loaded('busboy') };
const form = new FormData();
form.set('name', 'ada');
const posted = await fetch(running.url + '/form', { method: 'POST', body: form });
steps.form = { status: posted.status, body: await posted.text(), busboy: loaded('busboy') };
await running.close();
const live = new Vial({ env: 'test', log: { level: 'warn' } });
live.plugin(websocket);
live.get('/echo', { websocket: true }, (ctx) => ctx.websocket.onMessage((text) => ctx.websocket.send(text)));
await live.start();
steps.withRoute = loaded('ws');
// Only now: the test client's WebSocket is ws's own, so importing it earlier would load ws.
const { TestClient } = await import(${JSON.stringify(src('testing.ts'))});
const socket = await new TestClient(live).websocket('/echo');
socket.send('ping');
steps.echo = String(await socket.next());
await socket.close();
process.stdout.write('\\nsteps ' + JSON.stringify(steps) + '\\n');
`;

describe('per-feature dependencies', () => {
  it('ws waits for the first WebSocket route and busboy for the first multipart body, and each then works', async () => {
    const steps = await inChild<{ idle: { ws: number; busboy: number }; form: { status: number; body: string; busboy: number }; echo: string; withRoute: number }>(PER_FEATURE_CHILD);
    assert.deepEqual(steps.idle, { ws: 0, busboy: 0 }, 'loaded by an app with the websocket plugin but no WebSocket route, before any multipart body');
    assert.equal(steps.form.status, 200, steps.form.body);
    assert.equal(steps.form.body, '{"name":"ada"}');
    assert.ok(steps.form.busboy > 0, 'the multipart body did not load busboy (is the hook seeing it?)');
    assert.equal(steps.echo, 'ping');
    assert.ok(steps.withRoute > 0, 'setting up a WebSocket route did not load ws');
  });
});
