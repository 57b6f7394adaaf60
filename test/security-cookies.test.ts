import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCookieHeader, readCookie, serializeCookie } from '../src/security/cookies.ts';

describe('Cookie header parsing', () => {
  it('reads pairs, trims spaces and unquotes quoted values', () => {
    const { values, duplicates, truncated } = parseCookieHeader(' a=1;b=two ; c="three"');
    assert.deepEqual([...values], [['a', '1'], ['b', 'two'], ['c', 'three']]);
    assert.equal(duplicates.size, 0);
    assert.equal(truncated, false);
  });

  it('skips malformed pairs without throwing', () => {
    const inputs = ['novalue; =x; a b=1; ok=1', ';;;;', '=', 'bad=va lue; ok=1', 'ctl=\u0001; ok=1', 'x=%E0%A4%A; ok=1', 'q=a"b; ok=1'];
    for (const header of inputs) {
      const { values } = parseCookieHeader(header);
      assert.ok(!values.has('') && !values.has('a b') && !values.has('bad') && !values.has('ctl') && !values.has('q'), header);
    }
    assert.equal(parseCookieHeader('novalue; =x; ok=1').values.get('ok'), '1');
    assert.equal(parseCookieHeader(undefined).values.size, 0);
  });

  it('keeps the first occurrence of a name and reports the duplicate', () => {
    const { values, duplicates } = parseCookieHeader('s=first; t=1; s=second');
    assert.equal(values.get('s'), 'first');
    assert.deepEqual([...duplicates], ['s']);
    assert.deepEqual(readCookie(['s=first', 's=second'], 's'), { value: 'first', duplicated: true });
    assert.deepEqual(readCookie('t=1', 's'), { value: undefined, duplicated: false });
  });

  it('stops at the pair limit and the byte limit and says so', () => {
    const many = Array.from({ length: 500 }, (_, i) => `c${i}=v`).join('; ');
    const byCount = parseCookieHeader(many);
    assert.equal(byCount.values.size, 100);
    assert.equal(byCount.truncated, true);
    const big = `a=1; b=${'x'.repeat(20_000)}; c=3`;
    const bySize = parseCookieHeader(big);
    assert.equal(bySize.truncated, true);
    assert.deepEqual([...bySize.values.keys()], ['a']);
  });
});

describe('Set-Cookie serialization', () => {
  it('writes every attribute in a fixed order', () => {
    const header = serializeCookie('__Host-id', 'abc', { maxAgeSec: 60, path: '/', secure: true, httpOnly: true, sameSite: 'Lax', partitioned: true, expires: new Date(0) });
    assert.equal(header, '__Host-id=abc; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure; HttpOnly; SameSite=Lax; Partitioned');
  });

  it('refuses CR, LF, semicolons and other non-cookie characters in values', () => {
    for (const value of ['a\r\nSet-Cookie: x=1', 'a\nb', 'a;b', 'a b', 'a,b', 'a"b', 'a\\b', 'é']) {
      assert.throws(() => serializeCookie('n', value), { code: 'VIAL_ERR_COOKIE_INVALID' }, JSON.stringify(value));
    }
  });

  it('refuses bad names and attribute values that would extend the header', () => {
    assert.throws(() => serializeCookie('a b', 'v'), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('a=b', 'v'), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('n', 'v', { path: '/; Domain=evil.test' }), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('n', 'v', { domain: 'x\r\n' }), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('n', 'v', { maxAgeSec: 1.5 }), { code: 'VIAL_ERR_COOKIE_INVALID' });
  });

  it('enforces the __Host- and __Secure- prefix rules', () => {
    const ok = { secure: true, path: '/' } as const;
    assert.ok(serializeCookie('__Host-s', 'v', ok));
    assert.throws(() => serializeCookie('__Host-s', 'v', { path: '/' }), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('__Host-s', 'v', { ...ok, path: '/app' }), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('__Host-s', 'v', { ...ok, domain: 'example.com' }), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('__Secure-s', 'v'), { code: 'VIAL_ERR_COOKIE_INVALID' });
    assert.throws(() => serializeCookie('n', 'v', { sameSite: 'None' }), { code: 'VIAL_ERR_COOKIE_INVALID' });
  });
});
