/**
 * CORS in a real browser: Chromium loads a page from a second local server (http://127.0.0.1:<B>,
 * another origin than the app on http://127.0.0.1:<A>, same site) whose script calls the app. The allowed
 * origin reads a credentialed GET and gets a preflighted JSON PUT through (CSRF trusts it, said so
 * in security.csrf.trustedOrigins); the route with `cors: false` stays unreadable to it, and its
 * handler never runs for the preflight.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { cors } from '../src/cors/index.ts';
import { makeApp } from './helpers/both.ts';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function pageServer(html: (origin: string) => string): Promise<{ origin: string; close: () => Promise<void> }> {
  let origin = '';
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8', connection: 'close' }).end(req.url === '/' ? html(origin) : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Another port of the same host: another origin but the same site (as app.example.com and
  // api.example.com are), so the SameSite=Lax session cookie travels and CORS decides what the page reads.
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('CORS in Chromium', () => {
  it('lets the allowed origin read and write with credentials, and nothing more', { timeout: 60_000 }, async (t) => {
    // The page's origin is known only once its server listens, so the app is built after it.
    let appUrl = '';
    const page = await pageServer(() => `<!doctype html><title>front</title><script>
      window.results = (async () => {
        const base = ${JSON.stringify('APP')}.replace('APP', window.APP);
        const out = {};
        const get = await fetch(base + '/me', { credentials: 'include' });
        out.get = { status: get.status, body: await get.json(), total: get.headers.get('x-total') };
        const put = await fetch(base + '/items/1', { method: 'PUT', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{"name":"pen"}' });
        out.put = { status: put.status, body: await put.json() };
        try { await fetch(base + '/private'); out.private = 'read'; } catch (e) { out.private = 'blocked'; }
        return out;
      })();
    </script>`);
    t.after(() => page.close());
    const calls: string[] = [];
    const app = makeApp({ security: { csrf: { trustedOrigins: [page.origin] } } });
    app.plugin(cors, { origins: [page.origin], credentials: true, exposeHeaders: ['x-total'] });
    app.get('/login', (ctx) => {
      ctx.session.login('alice');
      return 'in';
    });
    app.get('/me', (ctx) => {
      calls.push('me');
      ctx.header('x-total', '3');
      return { user: ctx.session.userId ?? null };
    });
    app.route(['PUT'], '/items/<int:id>', async (ctx) => {
      calls.push('put');
      return { id: ctx.params.id, saved: await ctx.request.json(), user: ctx.session.userId ?? null };
    });
    app.get('/private', { cors: false }, () => {
      calls.push('private');
      return { secret: true };
    });
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => running.close());
    appUrl = running.url;
    const preflights: string[] = [];
    running.server.prependListener('request', (req) => {
      if (req.method === 'OPTIONS') preflights.push(`${req.url} ${String(req.headers['access-control-request-method'])}`);
    });

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS, timeout: 30_000 });
    t.after(() => browser.close());
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${appUrl}/login`);
    await tab.addInitScript(`window.APP = ${JSON.stringify(appUrl)};`);
    await tab.goto(`${page.origin}/`);
    const results = await tab.evaluate('window.results');
    assert.deepEqual(results, {
      get: { status: 200, body: { user: 'alice' }, total: '3' },
      put: { status: 200, body: { id: 1, saved: { name: 'pen' }, user: 'alice' } },
      private: 'blocked',
    });
    assert.deepEqual(preflights, ['/items/1 PUT']);
    assert.deepEqual(calls, ['me', 'put', 'private'], 'the preflight ran no handler; /private ran but the page could not read it');
  });
});
