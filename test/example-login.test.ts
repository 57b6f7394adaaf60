/**
 * examples/login through the test client: sign in (the password hashed with scrypt in the worker
 * pool), see the user, change something with a CSRF-protected form, sign out.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../src/testing.ts';
import { createLoginApp } from '../examples/login/app.ts';

const PASSWORD = 'correct horse battery staple';

function loginApp(): ReturnType<typeof createLoginApp> {
  return createLoginApp({
    env: 'development',
    log: { level: 'silent' },
    watchdog: { enabled: false },
    memory: { allocationSampling: { enabled: false }, leakAlarm: { enabled: false } },
    load: { pressure: { enabled: false } },
    security: { session: { store: 'memory' } },
  });
}

describe('examples/login', () => {
  it('signs in, shows the user, changes the display name, refuses a cross-site change and signs out', async (t) => {
    const app = loginApp();
    t.after(() => app.shutdown());
    const client = new TestClient(app);

    const form = await client.get('/login');
    assert.equal(form.status, 200);
    assert.match(form.text, /<input type="hidden" name="_csrf" value="[A-Za-z0-9_-]{86}">/);
    assert.equal((await client.get('/')).header('location'), '/login', 'anonymous visitors are sent to the login page');

    const wrong = await client.post('/login', { form: { username: 'ada', password: 'hunter2' } });
    assert.equal(wrong.header('location'), '/login?failed=1');
    assert.match((await client.get('/login?failed=1')).text, /Wrong user name or password/);

    const before = client.cookies.get('vial_session');
    const ok = await client.post('/login', { form: { username: 'ada', password: PASSWORD } });
    assert.equal(ok.status, 302);
    assert.equal(ok.header('location'), '/');
    const session = client.cookies.get('vial_session');
    assert.ok(session !== undefined && session !== before, 'login issues a new session id');

    const home = await client.get('/');
    assert.equal(home.status, 200);
    assert.match(home.text, /Hello, <span id="name">Ada<\/span>/);
    assert.match(home.text, /<code id="user">ada<\/code>/);

    const changed = await client.post('/profile', { form: { displayName: 'Countess <Lovelace>' } });
    assert.equal(changed.header('location'), '/');
    assert.match((await client.get('/')).text, /Hello, <span id="name">Countess &lt;Lovelace&gt;<\/span>/, 'saved and escaped');

    const forged = await client.post('/profile', { form: { displayName: 'Mallory' }, crossSite: true });
    assert.equal(forged.status, 403);
    assert.equal(forged.json<{ error: { code: string } }>().error.code, 'VIAL_ERR_CSRF');
    assert.doesNotMatch((await client.get('/')).text, /Mallory/);

    const out = await client.post('/logout');
    assert.equal(out.header('location'), '/login');
    assert.equal(client.cookies.has('vial_session'), false, 'the cookie is cleared');
    assert.equal((await client.get('/')).header('location'), '/login');
    client.cookies.set('vial_session', session);
    assert.equal((await client.get('/')).header('location'), '/login', 'the old cookie no longer signs in');
  });
});
