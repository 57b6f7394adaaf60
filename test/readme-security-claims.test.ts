/**
 * README security claims that no other test checked (issue 13, "re-check the README's security
 * claims against the tests"): event streams carry only the headers that act on any response, and
 * cookie sessions are AES-256-GCM under a key derived by HKDF from the secret, which is checked
 * here by opening a sealed cookie with a key derived independently of vial's code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { sse } from '../src/index.ts';
import { createCookieSessionManager } from '../src/security/cookie-session.ts';
import { connect, makeApp, MODES } from './helpers/both.ts';

async function* toAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

describe('README: "JSON and text/event-stream responses leave them off"', () => {
  for (const mode of MODES) {
    it(`sends nosniff and frame-ancestors on an event stream, not the document-only headers (${mode})`, async (t) => {
      const app = makeApp();
      app.get('/events', () => sse(toAsync([{ data: { n: 1 } }])));
      const c = await connect(t, mode, app);
      const res = await c.get('/events');
      assert.equal(res.status, 200);
      assert.match(res.header('content-type') ?? '', /^text\/event-stream/);
      assert.equal(res.text, 'data: {"n":1}\n\n');
      assert.equal(res.header('x-content-type-options'), 'nosniff');
      assert.equal(res.header('content-security-policy'), "frame-ancestors 'none'");
      for (const name of ['x-frame-options', 'referrer-policy', 'cross-origin-opener-policy']) assert.equal(res.header(name), undefined, name);
    });
  }
});

describe('README: cookie sessions are "AES-256-GCM, HKDF-derived keys"', () => {
  it('seals a cookie that AES-256-GCM opens under the HKDF-SHA256 key of the secret, and no other key', async () => {
    const secret = 'a-secret-of-enough-entropy-0123456789-abcdefghijklmnop';
    const manager = createCookieSessionManager({ secrets: [secret] });
    const session = await manager.load(undefined, false);
    session.login('alice');
    const cookie = await manager.commit(session);
    assert.ok(cookie);
    const raw = Buffer.from(cookie.value, 'base64url');
    // version (1) | key hint (2) | IV (12) | ciphertext | GCM tag (16)
    const iv = raw.subarray(3, 15);
    const body = raw.subarray(15, raw.length - 16);
    const tag = raw.subarray(raw.length - 16);
    const open = (key: Buffer): string => {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      decipher.setAAD(Buffer.from(`vial-cookie-session:v1:${manager.cookieName}`));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    };
    const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret), 'vial-cookie-session', 'aes-256-gcm key v1', 32));
    assert.equal((JSON.parse(open(key)) as { u?: string }).u, 'alice');
    // The secret itself (padded to 32 bytes) is not the key: it is derived.
    assert.throws(() => open(Buffer.from(secret).subarray(0, 32)));
  });
});
