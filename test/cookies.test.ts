import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { json, VialResponse } from '../src/index.ts';
import { createCookieSigner } from '../src/cookies/signing.ts';
import { both, connect, makeApp } from './helpers/both.ts';

const KEY_A = randomBytes(32).toString('base64url');
const KEY_B = randomBytes(32).toString('base64url');

function setCookies(headers: Record<string, unknown>): string[] {
  const value = headers['set-cookie'];
  return Array.isArray(value) ? (value as string[]) : typeof value === 'string' ? [value] : [];
}

both('ctx.setCookie and ctx.clearCookie', (mode) => {
  it('sends every cookie of a request in its own Set-Cookie header, with safe defaults', async (t) => {
    const app = makeApp();
    app.get('/two', (ctx) => {
      ctx.setCookie('theme', 'dark', { maxAgeSec: 3600 });
      ctx.setCookie('lang', 'fr');
      ctx.header('set-cookie', 'raw=1; Path=/');
      return 'ok';
    });
    const c = await connect(t, mode, app);
    const cookies = setCookies((await c.get('/two')).headers);
    assert.deepEqual(cookies, ['theme=dark; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax', 'lang=fr; Path=/; HttpOnly; SameSite=Lax', 'raw=1; Path=/']);
  });

  it('sends only the last value of a cookie set twice, and clears with the same attributes', async (t) => {
    const app = makeApp();
    app.get('/twice', (ctx) => {
      ctx.setCookie('step', '1');
      ctx.setCookie('step', '2');
      ctx.clearCookie('__Host-old');
      return 'ok';
    });
    const c = await connect(t, mode, app);
    assert.deepEqual(setCookies((await c.get('/twice')).headers), [
      'step=2; Path=/; HttpOnly; SameSite=Lax',
      '__Host-old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure; HttpOnly; SameSite=Lax',
    ]);
  });

  it('keeps the session cookie next to the cookies the handler set', async (t) => {
    const app = makeApp();
    app.get('/login', (ctx) => {
      ctx.session.login('u1');
      ctx.setCookie('seen', 'yes');
      return 'in';
    });
    const c = await connect(t, mode, app);
    const names = setCookies((await c.get('/login')).headers).map((line) => line.slice(0, line.indexOf('=')));
    assert.deepEqual(names.sort(), ['seen', 'vial_session']);
  });

  it('sends the cookies on an error response and on a returned Response too', async (t) => {
    const app = makeApp();
    app.get('/fail', (ctx) => {
      ctx.setCookie('tried', '1');
      throw new Error('boom');
    });
    app.get('/own', (ctx) => {
      ctx.setCookie('a', '1');
      return json({ ok: true });
    });
    const c = await connect(t, mode, app);
    const failed = await c.get('/fail');
    assert.equal(failed.status, 500);
    assert.deepEqual(setCookies(failed.headers), ['tried=1; Path=/; HttpOnly; SameSite=Lax']);
    assert.deepEqual(setCookies((await c.get('/own')).headers), ['a=1; Path=/; HttpOnly; SameSite=Lax']);
  });

  it('sends the cookies of a returned Response and of ctx.setCookie() together, none replacing another', async (t) => {
    const app = makeApp();
    app.get('/mixed', (ctx) => {
      ctx.setCookie('a', '1');
      const reply = new Response('ok', { headers: { 'content-type': 'text/plain' } });
      reply.headers.append('set-cookie', 'b=2; Path=/');
      reply.headers.append('set-cookie', 'c=3; Path=/');
      return reply;
    });
    app.get('/own-header', (ctx) => {
      ctx.header('set-cookie', 'd=4; Path=/');
      return new VialResponse('ok', 200, { 'content-type': 'text/plain', 'set-cookie': 'e=5; Path=/' });
    });
    const c = await connect(t, mode, app);
    assert.deepEqual(setCookies((await c.get('/mixed')).headers), ['b=2; Path=/', 'c=3; Path=/', 'a=1; Path=/; HttpOnly; SameSite=Lax']);
    assert.deepEqual(setCookies((await c.get('/own-header')).headers), ['e=5; Path=/', 'd=4; Path=/']);
  });

  it('is Secure by default in production', async (t) => {
    // The real server is reached as 127.0.0.1; production refuses Hosts it does not list.
    const app = makeApp({ env: 'production', security: { secretKey: KEY_A }, origin: 'https://app.example.com', allowedHosts: ['app.example.com', '127.0.0.1'] });
    app.get('/p', (ctx) => {
      ctx.setCookie('p', '1');
      return 'ok';
    });
    const c = await connect(t, mode, app);
    assert.deepEqual(setCookies((await c.get('/p')).headers), ['p=1; Path=/; Secure; HttpOnly; SameSite=Lax']);
  });

  it('refuses a value that could split the header with a 500 that names nothing to the client', async (t) => {
    const app = makeApp();
    app.get('/bad', (ctx) => {
      ctx.setCookie('x', ctx.query.get('v') ?? '');
      return 'ok';
    });
    const c = await connect(t, mode, app);
    const reply = await c.get('/bad?v=a%3B%20Domain%3Devil.com');
    assert.equal(reply.status, 500);
    assert.equal(reply.headers['set-cookie'], undefined);
    assert.doesNotMatch(reply.text, /Domain|cookie/i);
  });

  it('signs with the first key, verifies with any, and rejects a tampered or moved value', async (t) => {
    const signer = createCookieSigner([KEY_B]);
    const app = makeApp({ security: { secretKeys: [KEY_A, KEY_B] } });
    app.get('/set', (ctx) => {
      ctx.setCookie('cart', '42', { signed: true });
      return 'ok';
    });
    app.get('/read', (ctx) => ({ cart: ctx.signedCookie('cart') ?? null, raw: ctx.request.cookies['cart'] ?? null }));
    const c = await connect(t, mode, app);
    const line = setCookies((await c.get('/set')).headers)[0] ?? '';
    const value = /^cart=([^;]+)/.exec(line)?.[1] ?? '';
    assert.match(value, /^42\.[\w-]{43}$/);
    const read = async (cookie: string): Promise<unknown> => (await c.get('/read', { headers: { cookie }, noCookies: true })).json<{ cart: unknown }>().cart;
    assert.equal(await read(`cart=${value}`), '42');
    assert.equal(await read(`cart=${signer.sign('cart', '7')}`), '7', 'an older key still verifies');
    assert.equal(await read(`cart=43${value.slice(2)}`), null, 'a changed value fails');
    assert.equal(await read(`cart=${signer.sign('other', '7')}`), null, 'a value signed for another cookie fails');
    assert.equal(await read('cart=42'), null, 'an unsigned value fails');
  });
});

both('flash messages', (mode) => {
  it('keeps flashed messages in the session until the next page reads them, once', async (t) => {
    const app = makeApp();
    app.post('/save', (ctx) => {
      ctx.flash('Saved.');
      ctx.flash('Quota almost full.', 'warning');
      return new VialResponse(null, 303, { location: '/' });
    });
    app.get('/', (ctx) => ({ all: ctx.flashes(), warnings: ctx.flashes('warning') }));
    const c = await connect(t, mode, app);
    const saved = await c.post('/save');
    const cookie = setCookies(saved.headers)[0]?.split(';')[0] ?? '';
    const first = (await c.get('/', { headers: { cookie }, noCookies: true })).json();
    assert.deepEqual(first, {
      all: [{ category: 'message', message: 'Saved.' }, { category: 'warning', message: 'Quota almost full.' }],
      warnings: [{ category: 'warning', message: 'Quota almost full.' }],
    });
    const second = (await c.get('/', { headers: { cookie }, noCookies: true })).json();
    assert.deepEqual(second, { all: [], warnings: [] });
  });

  it('reads no session into existence when nothing was flashed', async (t) => {
    const app = makeApp();
    app.get('/', (ctx) => ({ n: ctx.flashes().length }));
    const c = await connect(t, mode, app);
    const reply = await c.get('/');
    assert.deepEqual(reply.json(), { n: 0 });
    assert.equal(reply.headers['set-cookie'], undefined);
  });
});
