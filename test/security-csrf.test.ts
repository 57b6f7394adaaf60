import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { describe, it, mock } from 'node:test';
import { checkCsrf, createCsrfExemption, createCsrfToken, csrfError, tokensEqual, type CsrfInput } from '../src/security/csrf.ts';

const APP = 'https://app.example.com';
const base = (over: Partial<CsrfInput> & { headers?: CsrfInput['headers'] } = {}): CsrfInput => ({
  method: 'POST',
  headers: {},
  appOrigin: APP,
  trustedOrigins: ['https://admin.example.com'],
  hasSessionCookie: true,
  ...over,
});
const decide = (over: Partial<CsrfInput> = {}) => checkCsrf(base(over));

describe('CSRF decision', () => {
  it('passes every safe method whatever the headers say', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) {
      assert.deepEqual(decide({ method, headers: { secFetchSite: 'cross-site', origin: 'https://evil.test' } }), { ok: true });
    }
  });

  it('treats every other method as unsafe, including unknown and lower-case ones', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND', 'get']) {
      assert.deepEqual(decide({ method, headers: { secFetchSite: 'cross-site' } }), { ok: false, reason: 'cross-site' });
    }
  });

  it('decides on Sec-Fetch-Site first', () => {
    assert.deepEqual(decide({ headers: { secFetchSite: 'same-origin' } }), { ok: true });
    assert.deepEqual(decide({ headers: { secFetchSite: 'none' } }), { ok: true });
    assert.deepEqual(decide({ headers: { secFetchSite: 'same-site' } }), { ok: false, reason: 'same-site' });
    assert.deepEqual(decide({ headers: { secFetchSite: 'cross-site' } }), { ok: false, reason: 'cross-site' });
    // same-origin wins even over a confusing Origin; only an exact trusted Origin passes cross-site.
    assert.deepEqual(decide({ headers: { secFetchSite: 'same-origin', origin: 'https://evil.test' } }), { ok: true });
    assert.deepEqual(decide({ headers: { secFetchSite: 'cross-site', origin: 'https://admin.example.com' } }), { ok: true }, 'an exact trusted origin passes (a CORS front end)');
    assert.deepEqual(decide({ headers: { secFetchSite: 'cross-site', origin: 'https://admin.example.com.evil' } }), { ok: false, reason: 'cross-site' });
  });

  it('falls back to Origin without Sec-Fetch-Site (or with a value no browser sends)', () => {
    assert.deepEqual(decide({ headers: { origin: APP } }), { ok: true });
    assert.deepEqual(decide({ headers: { origin: 'HTTPS://APP.EXAMPLE.COM:443' } }), { ok: true });
    assert.deepEqual(decide({ headers: { origin: 'https://admin.example.com' } }), { ok: true });
    assert.deepEqual(decide({ headers: { origin: 'http://app.example.com' } }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(decide({ headers: { origin: 'https://app.example.com:8443' } }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(decide({ headers: { origin: 'https://app.example.com.evil.test' } }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(decide({ headers: { origin: 'https://sub.app.example.com' } }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(decide({ headers: { origin: 'not a url' } }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(decide({ headers: { origin: 'null' } }), { ok: false, reason: 'origin-null' });
    assert.deepEqual(decide({ headers: { secFetchSite: 'bogus', origin: 'https://evil.test' } }), { ok: false, reason: 'origin-mismatch' });
  });

  it('compares Origin with the Host header when no app origin is configured', () => {
    const noApp = (origin: string, host: string | undefined) => checkCsrf({ method: 'POST', headers: { origin, host }, hasSessionCookie: true });
    assert.deepEqual(noApp('http://localhost:5000', 'localhost:5000'), { ok: true });
    assert.deepEqual(noApp('http://localhost:5000', 'localhost:5001'), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(noApp('http://localhost:5000', undefined), { ok: false, reason: 'origin-mismatch' });
  });

  it('requires the session-bound token when neither header is present and the session cookie is', () => {
    const token = createCsrfToken();
    assert.deepEqual(decide({ sessionToken: token, submittedToken: token }), { ok: true });
    assert.deepEqual(decide({ sessionToken: token }), { ok: false, reason: 'token-missing' });
    assert.deepEqual(decide({ sessionToken: token, submittedToken: '' }), { ok: false, reason: 'token-missing' });
    assert.deepEqual(decide({ sessionToken: token, submittedToken: createCsrfToken() }), { ok: false, reason: 'token-invalid' });
    assert.deepEqual(decide({ sessionToken: token, submittedToken: token.slice(1) }), { ok: false, reason: 'token-invalid' });
    assert.deepEqual(decide({ submittedToken: token }), { ok: false, reason: 'token-invalid' });
  });

  it('passes a request with no session cookie and no browser headers, marked tokenless (it may not log in)', () => {
    assert.deepEqual(decide({ hasSessionCookie: false }), { ok: true, tokenless: true });
    assert.deepEqual(decide({ hasSessionCookie: false, cookieToken: 'anon', submittedToken: 'anon' }), { ok: true }, 'with the anonymous token it is verified');
  });

  it('accepts the anonymous cookie-bound token as well as the session one', () => {
    assert.deepEqual(decide({ hasSessionCookie: true, sessionToken: 'sess', cookieToken: 'anon', submittedToken: 'anon' }), { ok: true });
    assert.deepEqual(decide({ hasSessionCookie: true, sessionToken: 'sess', cookieToken: 'anon', submittedToken: 'other' }), { ok: false, reason: 'token-invalid' });
  });

  it('judges the real method, never an override', () => {
    // A cross-site POST that asks to be treated as GET through X-HTTP-Method-Override or _method:
    // the decision takes no override input at all, so the lead passes the request-line method.
    const override = { method: 'POST', headers: { secFetchSite: 'cross-site' }, 'x-http-method-override': 'GET', _method: 'GET' };
    assert.deepEqual(checkCsrf({ ...base(), ...override }), { ok: false, reason: 'cross-site' });
    assert.deepEqual(decide({ method: 'POST', sessionToken: 't'.repeat(43) }), { ok: false, reason: 'token-missing' });
  });

  it('compares tokens with crypto.timingSafeEqual on equal-length buffers', () => {
    const spy = mock.method(crypto, 'timingSafeEqual');
    // Named imports of builtins follow the default export only after a sync (node:module docs).
    syncBuiltinESMExports();
    try {
      const token = createCsrfToken();
      assert.equal(tokensEqual(token, token), true);
      assert.equal(tokensEqual(token, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), false);
      assert.equal(spy.mock.callCount(), 2);
      assert.equal(tokensEqual(token, 'short'), false);
      assert.equal(spy.mock.callCount(), 2, 'unequal lengths never reach timingSafeEqual');
    } finally {
      spy.mock.restore();
      syncBuiltinESMExports();
    }
  });

  it('creates 256-bit random tokens', () => {
    const a = createCsrfToken();
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.notEqual(a, createCsrfToken());
  });

  it('exempts exact paths and /prefix/* paths only', () => {
    const exempt = createCsrfExemption(['/hooks/stripe', '/api/public/*']);
    assert.equal(exempt('/hooks/stripe'), true);
    assert.equal(exempt('/hooks/stripe/x'), false);
    assert.equal(exempt('/api/public/a/b'), true);
    assert.equal(exempt('/api/publicity'), false);
  });

  it('turns a refusal into an exposed 403 VIAL_ERR_CSRF that names the cause', () => {
    const error = csrfError('origin-null');
    assert.equal(error.code, 'VIAL_ERR_CSRF');
    assert.equal(error.status, 403);
    assert.equal(error.expose, true);
    assert.match(error.message, /Origin is "null"/);
  });
});
