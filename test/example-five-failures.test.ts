/** examples/five-failures: each of the five failure classes, handled, through the test client. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cacheRegistry } from '../src/index.ts';
import { TestClient } from '../src/testing.ts';
import app from '../examples/five-failures/app.ts';

describe('the five-failures example', () => {
  const client = new TestClient(app);
  after(() => app.shutdown());

  it('1. keeps its cache bounded and listed in the registry', async () => {
    for (let i = 0; i < 50; i++) assert.equal((await client.get('/cache', { query: { key: `k${i}`, value: 'v' } })).status, 200);
    const stats = cacheRegistry.get('five-failures.kv');
    assert.ok(stats !== undefined, 'the cache is registered by name');
    assert.equal(stats.maxEntries, 10_000);
    assert.equal(stats.size, 50);
  });

  it('2. refuses slow-route overflow with 503 + Retry-After while /fast still answers', async () => {
    const slow = Array.from({ length: 24 }, () => client.get('/slow'));
    const fast = await client.get('/fast');
    assert.equal(fast.status, 200, '/fast answers while /slow is flooded');
    const results = await Promise.all(slow);
    // 8 run at once (the bulkhead); 8 more queue but a queued request waits at most
    // load.admission.maxQueueWaitMs (1 s), less than the 2 s the slow ones take; the rest is refused at once.
    assert.equal(results.filter((r) => r.status === 200).length, 8);
    const refused = results.filter((r) => r.status === 503);
    assert.equal(refused.length, 16);
    for (const r of refused) assert.match(r.header('retry-after') ?? '', /^\d+$/);
  });

  it('3. hashes in the worker-thread pool and runs a whole route there', async () => {
    const hash = await client.get('/hash', { query: { password: 'pw' } });
    assert.equal(hash.status, 200);
    assert.match(hash.json<{ scrypt: string }>().scrypt, /^[\w-]{43}$/);
    const primes = await client.get('/primes', { query: { n: '1000' } });
    assert.deepEqual(primes.json(), { n: 1000, count: 168 });
  });

  it('4. never mixes two requests\' g.user across awaits', async () => {
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const answers = await Promise.all(users.map((user) => client.get('/data', { query: { user } })));
    assert.deepEqual(answers.map((r) => r.text), users.map((u) => `Data for ${u}`));
  });

  it('5. logs in with the form token, refuses a cross-site post, rotates and ends the session', async () => {
    const browser = new TestClient(app);
    const form = await browser.get('/login');
    assert.match(form.text, /name="_csrf" value="[\w-]+"/);
    // An anonymous form view stores nothing: it carries a CSRF cookie, not a session (issue 13).
    const sessionCookie = (): string | undefined => [...browser.cookies].find(([name]) => name.endsWith('vial_session'))?.[1];
    assert.equal(sessionCookie(), undefined, 'viewing the login form starts no session');
    assert.ok([...browser.cookies.keys()].some((name) => name.endsWith('vial_csrf')), 'the form token is bound to a CSRF cookie');
    const refused = await browser.post('/login', { form: { user: 'mallory' }, crossSite: true });
    assert.equal(refused.status, 403);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_CSRF');
    const login = await browser.post('/login', { form: { user: 'ann' } });
    assert.equal(login.status, 302);
    const first = sessionCookie();
    assert.ok(first !== undefined, 'login starts the session');
    assert.deepEqual((await browser.get('/me')).json(), { user: 'ann' });
    const again = await browser.post('/login', { form: { user: 'ann' } });
    assert.equal(again.status, 302);
    assert.notEqual(sessionCookie(), first, 'logging in again rotates the session id');
    await browser.post('/logout');
    assert.deepEqual((await browser.get('/me')).json(), { user: null });
  });
});
