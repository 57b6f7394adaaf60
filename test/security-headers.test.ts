import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSecurityHeaders, varyWithCookie } from '../src/security/headers.ts';

describe('security headers', () => {
  it('sends the safe set by default, without HSTS outside production over https', () => {
    const headers = buildSecurityHeaders({}, { production: false, https: false });
    assert.deepEqual(Object.fromEntries(headers), {
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'strict-origin-when-cross-origin',
      'x-frame-options': 'DENY',
      'content-security-policy': "frame-ancestors 'none'",
      'cross-origin-opener-policy': 'same-origin',
    });
    assert.ok(Object.isFrozen(headers) && headers.every((pair) => Object.isFrozen(pair)));
    assert.equal(Object.fromEntries(buildSecurityHeaders({}, { production: true, https: false }))['strict-transport-security'], undefined);
  });

  it('adds HSTS in production over https', () => {
    const headers = Object.fromEntries(buildSecurityHeaders({}, { production: true, https: true }));
    assert.equal(headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
  });

  it('lets each header be changed or visibly turned off', () => {
    const headers = Object.fromEntries(
      buildSecurityHeaders({ frameOptions: false, contentSecurityPolicy: "default-src 'self'", hsts: false }, { production: true, https: true }),
    );
    assert.equal(headers['x-frame-options'], undefined);
    assert.equal(headers['content-security-policy'], "default-src 'self'");
    assert.equal(headers['strict-transport-security'], undefined);
  });

  it('refuses a configured value that would split the response', () => {
    assert.throws(() => buildSecurityHeaders({ referrerPolicy: 'no-referrer\r\nX-Evil: 1' }, { production: false, https: false }), {
      code: 'VIAL_ERR_SECURITY_OPTIONS',
    });
  });

  it('adds Cookie to Vary once', () => {
    assert.equal(varyWithCookie(undefined), 'Cookie');
    assert.equal(varyWithCookie('Accept-Encoding'), 'Accept-Encoding, Cookie');
    assert.equal(varyWithCookie('accept-encoding, cookie'), 'accept-encoding, cookie');
    assert.equal(varyWithCookie('*'), '*');
  });
});
