import { it } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, HttpError, VialError, abort, json } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody } from './helpers/both.ts';

// The test's own codes, added to the registry as a plugin adds its own (docs/errors.md).
declare module '../src/error-codes.ts' {
  interface VialErrorCodes {
    VIAL_ERR_QUOTA: true;
    VIAL_ERR_TEST_BAD: true;
    VIAL_ERR_UPSTREAM: true;
  }
}

class ValidationError extends Error {
  readonly field: string;
  constructor(field: string) {
    super(`invalid ${field}`);
    this.field = field;
  }
}
class EmailError extends ValidationError {}

const SECRET = 'db password is hunter2';

both('errors', (mode) => {
  it('maps abort() and VialError to their status, code and exposed message', async (t) => {
    const app = makeApp();
    app.get('/gone', () => abort(410, 'This page was removed; see /new.'));
    app.get('/custom', () => {
      throw new VialError('VIAL_ERR_QUOTA', 'You used your quota; try tomorrow.', { status: 429, headers: { 'retry-after': '3600' } });
    });
    app.get('/bad', () => {
      throw new BadRequestError('VIAL_ERR_TEST_BAD', 'The id is malformed.');
    });
    const c = await connect(t, mode, app);
    const gone = await c.get('/gone');
    assert.equal(gone.status, 410);
    assert.deepEqual(gone.json<ErrorBody>().error, {
      status: 410,
      code: 'VIAL_ERR_HTTP_410',
      message: 'This page was removed; see /new.',
      requestId: gone.header('x-request-id'),
    });
    const quota = await c.get('/custom');
    assert.equal(quota.status, 429);
    assert.equal(quota.header('retry-after'), '3600');
    assert.equal(quota.json<ErrorBody>().error.code, 'VIAL_ERR_QUOTA');
    assert.equal(quota.json<ErrorBody>().error.message, 'You used your quota; try tomorrow.');
    const bad = await c.get('/bad');
    assert.equal(bad.status, 400);
    assert.equal(bad.json<ErrorBody>().error.code, 'VIAL_ERR_TEST_BAD');
  });

  it('gives unexpected errors a generic 500 with the request id and never the message or stack', async (t) => {
    const app = makeApp();
    app.get('/crash', () => {
      throw new Error(SECRET);
    });
    app.get('/reject', async () => {
      await Promise.resolve();
      throw new TypeError(SECRET);
    });
    app.get('/hidden', () => {
      throw new VialError('VIAL_ERR_UPSTREAM', SECRET, { status: 502 });
    });
    app.get('/non-error', () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a hostile library can throw anything
      throw SECRET;
    });
    const c = await connect(t, mode, app);
    for (const path of ['/crash', '/reject', '/hidden', '/non-error']) {
      for (const accept of ['application/json', 'text/html']) {
        const res = await c.get(path, { headers: { accept } });
        assert.equal(res.status, path === '/hidden' ? 502 : 500, path);
        assert.ok(!res.text.includes('hunter2'), `${path} leaked the message: ${res.text}`);
        assert.ok(!/at .*\.ts:\d+/.test(res.text), `${path} leaked a stack`);
        const id = res.header('x-request-id');
        assert.ok(id !== undefined && id.length > 0);
        assert.ok(res.text.includes(id), `${path} (${accept}) shows the request id`);
        if (accept === 'application/json') {
          const { error } = res.json<ErrorBody>();
          assert.equal(error.code, 'VIAL_ERR_INTERNAL');
          assert.equal(error.requestId, id);
        }
      }
    }
  });

  it('answers JSON by default and HTML when the client prefers it', async (t) => {
    const app = makeApp();
    app.get('/x', () => abort(403, 'No <b>entry</b>.'));
    const c = await connect(t, mode, app);
    const api = await c.get('/x');
    assert.match(api.header('content-type') ?? '', /^application\/json/);
    assert.equal(api.json<ErrorBody>().error.message, 'No <b>entry</b>.');
    const browser = await c.get('/x', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(browser.status, 403);
    assert.match(browser.header('content-type') ?? '', /^text\/html/);
    assert.match(browser.text, /<h1>403 Forbidden<\/h1>/);
    assert.ok(browser.text.includes('No &lt;b&gt;entry&lt;/b&gt;.'), 'the message is escaped in HTML');
    const jsonFirst = await c.get('/x', { headers: { accept: 'application/json, text/html' } });
    assert.match(jsonFirst.header('content-type') ?? '', /^application\/json/);
    const missing = await c.get('/nope', { headers: { accept: 'text/html' } });
    assert.equal(missing.status, 404);
    assert.match(missing.text, /<h1>404 Not Found<\/h1>/);
  });

  it('calls handlers registered by status, with the status kept unless the handler sets one', async (t) => {
    const app = makeApp();
    app.errorHandler(404, (_e, ctx) => `<p>Nothing at ${ctx.request.path}</p>`);
    app.errorHandler(500, () => json({ sorry: true }, { status: 503 }));
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/missing', () => abort(404));
    const c = await connect(t, mode, app);
    const unmatched = await c.get('/nowhere');
    assert.equal(unmatched.status, 404);
    assert.equal(unmatched.text, '<p>Nothing at /nowhere</p>');
    assert.equal((await c.get('/missing')).text, '<p>Nothing at /missing</p>');
    const boom = await c.get('/boom');
    assert.equal(boom.status, 503);
    assert.deepEqual(boom.json(), { sorry: true });
  });

  it('calls handlers registered by class, matching subclasses, nearest class first', async (t) => {
    const app = makeApp();
    app.errorHandler(ValidationError, (e) => json({ invalid: e.field }, { status: 422 }));
    app.get('/field', () => {
      throw new ValidationError('name');
    });
    app.get('/email', () => {
      throw new EmailError('email');
    });
    app.get('/http', () => abort(409));
    app.errorHandler(HttpError, (e) => json({ http: e.status }, { status: e.status }));
    const c = await connect(t, mode, app);
    const field = await c.get('/field');
    assert.equal(field.status, 422);
    assert.deepEqual(field.json(), { invalid: 'name' });
    assert.deepEqual((await c.get('/email')).json(), { invalid: 'email' });
    const http = await c.get('/http');
    assert.equal(http.status, 409);
    assert.deepEqual(http.json(), { http: 409 });
  });

  it('prefers a subclass handler over its parent class handler', async (t) => {
    const app = makeApp();
    app.errorHandler(ValidationError, () => 'parent');
    app.errorHandler(EmailError, () => 'child');
    app.get('/email', () => {
      throw new EmailError('email');
    });
    const c = await connect(t, mode, app);
    assert.equal((await c.get('/email')).text, 'child');
  });

  it('falls back to a generic 500 when the error handler itself throws', async (t) => {
    const app = makeApp();
    app.errorHandler(ValidationError, () => {
      throw new Error(SECRET);
    });
    app.errorHandler(404, () => abort(451, 'Unavailable here.'));
    app.get('/v', () => {
      throw new ValidationError('x');
    });
    const c = await connect(t, mode, app);
    const res = await c.get('/v');
    assert.equal(res.status, 500);
    assert.ok(!res.text.includes('hunter2'));
    assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_INTERNAL');
    const rethrown = await c.get('/nothing');
    assert.equal(rethrown.status, 451);
    assert.equal(rethrown.json<ErrorBody>().error.message, 'Unavailable here.');
  });

  it('answers 500 when a handler returns something that is not a response', async (t) => {
    const app = makeApp();
    // A function is not a reply; the type system would catch it, a JavaScript caller would not.
    const notAReply: () => object = () => () => 'a function';
    app.get('/fn', notAReply);
    const c = await connect(t, mode, app);
    const res = await c.get('/fn');
    assert.equal(res.status, 500);
    assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_INTERNAL');
  });
});
