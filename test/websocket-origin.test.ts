/**
 * Cross-site WebSocket hijacking: the handshake's Origin decides, with CSRF's own rules
 * (security/csrf.ts) and the socket's allowed origins.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkHandshakeOrigin, originRefusal } from '../src/websocket/origin.ts';
import type { HandshakeOriginInput, OriginPolicy } from '../src/websocket/origin.ts';

const policy: OriginPolicy = { appOrigin: undefined, allowedOrigins: ['https://admin.example'] };
const base: HandshakeOriginInput = { origin: undefined, secFetchSite: undefined, host: 'app.example', hasSessionCookie: false, sessionToken: undefined, submittedToken: undefined };
const check = (input: Partial<HandshakeOriginInput>, p = policy) => checkHandshakeOrigin({ ...base, ...input }, p);

describe('websocket origin check', () => {
  it("accepts the app's own origin (from the Host when no appOrigin is set)", () => {
    assert.deepEqual(check({ origin: 'https://app.example' }), { ok: true });
    assert.deepEqual(check({ origin: 'http://APP.example' }), { ok: true });
  });

  it('refuses a page on another site, even when the browser calls it same-site', () => {
    assert.deepEqual(check({ origin: 'https://evil.example' }), { ok: false, reason: 'origin-mismatch' });
    assert.deepEqual(check({ origin: 'https://sub.app.example', secFetchSite: 'same-site' }), { ok: false, reason: 'origin-mismatch' });
  });

  it('accepts a configured origin, also when the browser reports cross-site', () => {
    assert.deepEqual(check({ origin: 'https://admin.example', secFetchSite: 'cross-site' }), { ok: true });
  });

  it('compares with appOrigin when one is configured, whatever the Host says', () => {
    const fixed = { appOrigin: 'https://app.example', allowedOrigins: [] };
    assert.deepEqual(check({ origin: 'https://app.example', host: 'internal:8080' }, fixed), { ok: true });
    assert.deepEqual(check({ origin: 'http://app.example', host: 'app.example' }, fixed), { ok: false, reason: 'origin-mismatch' });
  });

  it('refuses the opaque origin "null" and a malformed Origin', () => {
    assert.deepEqual(check({ origin: 'null' }), { ok: false, reason: 'origin-null' });
    assert.deepEqual(check({ origin: 'app.example' }), { ok: false, reason: 'origin-mismatch' });
  });

  it('follows the CSRF rule without an Origin: no session cookie passes, the cookie needs the token', () => {
    assert.deepEqual(check({}), { ok: true, tokenless: true });
    assert.deepEqual(check({ hasSessionCookie: true, sessionToken: 'tok' }), { ok: false, reason: 'token-missing' });
    assert.deepEqual(check({ hasSessionCookie: true, sessionToken: 'tok', submittedToken: 'nope' }), { ok: false, reason: 'token-invalid' });
    assert.deepEqual(check({ hasSessionCookie: true, sessionToken: 'tok', submittedToken: 'tok' }), { ok: true });
  });

  it('refuses Sec-Fetch-Site cross-site without an Origin (no conforming browser sends that)', () => {
    assert.deepEqual(check({ secFetchSite: 'cross-site' }), { ok: false, reason: 'cross-site' });
  });

  it('answers a refusal with a 403 that says what to do and exposes no internals', () => {
    const error = originRefusal('origin-mismatch');
    assert.equal(error.status, 403);
    assert.equal(error.code, 'VIAL_ERR_WS_ORIGIN');
    assert.equal(error.expose, true);
    assert.match(error.message, /websocket\.allowedOrigins/);
  });
});
