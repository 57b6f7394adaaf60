import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Blueprint, ConfigError } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';

const UUID = '0F8FAD5B-D9CB-469F-A165-70867728950E';

both('routing', (mode) => {
  it('serves static paths and returns 404 with a JSON body for unknown ones', async (t) => {
    const app = makeApp();
    app.get('/', () => 'home');
    app.get('/about/team', () => 'team');
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/')).text, 'home');
    assert.equal((await c.get('/about/team')).text, 'team');
    const missing = await c.get('/about/nobody');
    assert.equal(missing.status, 404);
    assert.equal(missing.json<ErrorBody>().error.code, 'VIAL_ERR_HTTP_404');
  });

  it('passes string params and converts int and uuid params', async (t) => {
    const app = makeApp();
    app.get('/users/<name>', (ctx) => ({ name: ctx.params['name'] }));
    app.get('/posts/<int:id>', (ctx) => ({ id: ctx.params['id'], type: typeof ctx.params['id'] }));
    app.get('/things/<uuid:id>', (ctx) => ({ id: ctx.params['id'] }));
    app.get('/legacy/:slug', (ctx) => ({ slug: ctx.params['slug'] }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/users/ada')).json(), { name: 'ada' });
    assert.deepEqual((await c.get('/users/j%C3%BCrgen')).json(), { name: 'jürgen' });
    assert.deepEqual((await c.get('/posts/42')).json(), { id: 42, type: 'number' });
    assert.equal((await c.get('/posts/forty-two')).status, 404);
    assert.equal((await c.get('/posts/-1')).status, 404);
    assert.deepEqual((await c.get(`/things/${UUID}`)).json(), { id: UUID.toLowerCase() });
    assert.equal((await c.get('/things/not-a-uuid')).status, 404);
    assert.deepEqual((await c.get('/legacy/hello')).json(), { slug: 'hello' });
  });

  it('lets int and string converters share a position, the int route winning for digits', async (t) => {
    const app = makeApp();
    app.get('/u/<int:id>', (ctx) => `id ${String(ctx.params['id'])}`);
    app.get('/u/<name>', (ctx) => `name ${String(ctx.params['name'])}`);
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/u/7')).text, 'id 7');
    assert.equal((await c.get('/u/seven')).text, 'name seven');
  });

  it('captures the rest of the path with the path converter', async (t) => {
    const app = makeApp();
    app.get('/files/<path:rest>', (ctx) => ({ rest: ctx.params['rest'] }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/files/a/b/c.txt')).json(), { rest: 'a/b/c.txt' });
    assert.deepEqual((await c.get('/files/one')).json(), { rest: 'one' });
  });

  it('uses custom converters for matching and parsing', async (t) => {
    const app = makeApp();
    app.converter('hex', { regex: '[0-9a-f]+', parse: (text) => parseInt(text, 16), format: (v) => (v as number).toString(16) });
    app.get('/colour/<hex:value>', { name: 'colour' }, (ctx) => ({ value: ctx.params['value'] }));
    const c = await connect(t, mode, app);
    assert.deepEqual((await c.get('/colour/ff')).json(), { value: 255 });
    assert.equal((await c.get('/colour/zz')).status, 404);
    assert.equal(app.urlFor('colour', { value: 4095 }), '/colour/fff');
  });

  it('answers 405 with an Allow header when the path exists for other methods', async (t) => {
    const app = makeApp();
    app.get('/items', () => []);
    app.post('/items', () => ({ created: true }));
    const c = await connect(t, mode, app);
    const res = await c.request('DELETE', '/items');
    assert.equal(res.status, 405);
    const allow = (res.header('allow') ?? '').split(/,\s*/).sort();
    assert.deepEqual(allow, ['GET', 'HEAD', 'OPTIONS', 'POST']);
    assert.equal(res.json<ErrorBody>().error.status, 405);
  });

  it('answers HEAD for GET routes with the headers and no body', async (t) => {
    const app = makeApp();
    let calls = 0;
    app.get('/page', () => {
      calls++;
      return 'hello world';
    });
    const c = await connect(t, mode, app);
    const res = await c.head('/page');
    assert.equal(res.status, 200);
    assert.equal(res.text, '');
    assert.equal(res.header('content-length'), String('hello world'.length));
    assert.match(res.header('content-type') ?? '', /^text\/html/);
    assert.equal(calls, 1);
  });

  it('answers OPTIONS automatically with 204 and Allow', async (t) => {
    const app = makeApp();
    app.route(['GET', 'PUT'], '/doc', () => 'doc');
    const c = await connect(t, mode, app);
    const res = await c.options('/doc');
    assert.equal(res.status, 204);
    assert.deepEqual((res.header('allow') ?? '').split(/,\s*/).sort(), ['GET', 'HEAD', 'OPTIONS', 'PUT']);
    assert.equal((await c.options('/nothing-here')).status, 404);
  });

  it('treats a trailing slash as part of the path (no silent match, no redirect)', async (t) => {
    const app = makeApp();
    app.get('/bare', () => 'bare');
    app.get('/dir/', () => 'dir');
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/bare')).status, 200);
    assert.equal((await c.get('/bare/')).status, 404);
    assert.equal((await c.get('/dir/')).text, 'dir');
    assert.equal((await c.get('/dir')).status, 404);
  });

  it('builds URLs for named routes from handlers and blueprints', async (t) => {
    const app = makeApp();
    app.get('/users/<int:id>', function user(ctx) {
      return ctx.urlFor('user', { id: 9 }, { tab: 'posts' });
    });
    const admin = new Blueprint('admin', { prefix: '/admin' });
    admin.get('/', { name: 'index' }, () => 'admin');
    admin.get('/users/<name>', { name: 'user' }, (ctx) => ctx.urlFor('admin.index'));
    app.register(admin);
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/users/1')).text, '/users/9?tab=posts');
    assert.equal((await c.get('/admin/users/x')).text, '/admin');
    assert.equal(app.urlFor('admin.user', { name: 'a b/c' }), '/admin/users/a%20b%2Fc');
    assert.equal(app.urlFor('user', { id: 3 }, { q: 'a&b', empty: '' }), '/users/3?q=a%26b&empty=');
  });
});

describe('route registration', () => {
  it('refuses urlFor for an unknown name or a value its converter would not match', () => {
    const app = makeApp();
    app.get('/n/<int:id>', { name: 'n' }, () => 'n');
    assert.throws(() => app.urlFor('nope'), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_URL_FOR' && /Named routes: n/.test(e.message));
    assert.throws(() => app.urlFor('n', { id: 'abc' }), { code: 'VIAL_ERR_URL_FOR' });
    assert.throws(() => app.urlFor('n'), { code: 'VIAL_ERR_URL_FOR' });
  });

  it('rejects two different routes with the same name', () => {
    const app = makeApp();
    app.get('/a', { name: 'same' }, () => 'a');
    app.get('/b', { name: 'same' }, () => 'b');
    assert.throws(() => app.routeList, (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_ROUTE' && /named "same"/.test(e.message));
  });

  it('allows one name for several methods of the same path', () => {
    const app = makeApp();
    app.get('/form', { name: 'form' }, () => 'show');
    app.post('/form', { name: 'form' }, () => 'save');
    assert.equal(app.urlFor('form'), '/form');
  });

  it('rejects the same method and path registered twice', () => {
    const app = makeApp();
    app.get('/twice', () => 'one');
    app.get('/twice', () => 'two');
    assert.throws(() => app.routeList, { code: 'VIAL_ERR_ROUTE' });
  });

  it('rejects unknown converters and malformed patterns with a clear message', () => {
    const app = makeApp();
    app.get('/x/<nope:id>', () => 'x');
    assert.throws(() => app.routeList, (e: unknown) => e instanceof ConfigError && /Unknown converter "nope"/.test(e.message) && /app\.converter/.test(e.message));
    const other = makeApp();
    other.get('no-slash', () => 'x');
    assert.throws(() => other.routeList, { code: 'VIAL_ERR_ROUTE' });
  });

  it('rejects a second blueprint with the same name', () => {
    const app = makeApp();
    app.register(new Blueprint('api'));
    assert.throws(() => app.register(new Blueprint('api', { prefix: '/v2' })), { code: 'VIAL_ERR_BLUEPRINT' });
  });

  it('refuses registration after the first request with VIAL_ERR_APP_FROZEN', async () => {
    const app = makeApp();
    app.get('/', () => 'ok');
    void app.handler;
    const frozen = { code: 'VIAL_ERR_APP_FROZEN' };
    assert.throws(() => app.get('/late', () => 'late'), frozen);
    assert.throws(() => app.beforeRequest(() => undefined), frozen);
    assert.throws(() => app.afterRequest(() => undefined), frozen);
    assert.throws(() => app.teardownRequest(() => undefined), frozen);
    assert.throws(() => app.errorHandler(404, () => 'x'), frozen);
    assert.throws(() => app.register(new Blueprint('late')), frozen);
    assert.throws(() => app.converter('x', {}), frozen);
    assert.throws(() => app.get('/late', () => 'late'), /Do all registration at startup/);
    await app.start();
  });

  it('refuses registration on a registered blueprint once the app is frozen', () => {
    const app = makeApp();
    const bp = new Blueprint('bp', { prefix: '/bp' });
    app.register(bp);
    void app.handler;
    assert.throws(() => bp.get('/late', () => 'late'), { code: 'VIAL_ERR_APP_FROZEN' });
  });
});
