import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSessionManagerFromOptions } from '../src/security/factory.ts';
import { MemorySessionStore } from '../src/security/stores/memory.ts';
import { resolveSecurityOptions } from '../src/security/options.ts';

const strong = randomBytes(32).toString('base64url');

describe('security options', () => {
  it('resolves secure defaults into a frozen object', () => {
    const resolved = resolveSecurityOptions({}, { production: true });
    assert.ok(Object.isFrozen(resolved) && Object.isFrozen(resolved.session) && Object.isFrozen(resolved.csrf));
    assert.equal(resolved.session.store, 'sqlite');
    assert.equal(resolved.session.cookieName, '__Host-vial_session');
    assert.equal(resolved.session.secure, true);
    assert.equal(resolved.session.idleTimeoutMs, 1_800_000);
    assert.equal(resolved.session.absoluteTimeoutMs, 28_800_000);
    assert.equal(resolved.csrf.enabled, true);
    assert.ok(resolved.headers.some(([name]) => name === 'strict-transport-security'));
    assert.deepEqual(resolved.secretKeys, []);
  });

  it('falls back to a non-Secure cookie only in development over http', () => {
    const dev = resolveSecurityOptions({}, { production: false });
    assert.equal(dev.session.secure, false);
    assert.equal(dev.session.cookieName, 'vial_session');
    assert.equal(resolveSecurityOptions({}, { production: false, https: true }).session.secure, true);
    assert.throws(() => resolveSecurityOptions({ session: { secure: false } }, { production: true }), { code: 'VIAL_ERR_SECURITY_OPTIONS' });
  });

  it('refuses a weak secret in production whenever one is given', () => {
    assert.throws(() => resolveSecurityOptions({ secretKey: 'supersecretkey' }, { production: true }), { code: 'VIAL_ERR_WEAK_SECRET' });
    assert.throws(() => resolveSecurityOptions({ secretKeys: [strong, 'changeme'] }, { production: true }), { code: 'VIAL_ERR_WEAK_SECRET' });
  });

  it('requires a secret for cookie sessions in production, and makes one up in development', () => {
    assert.throws(() => resolveSecurityOptions({ session: { store: 'cookie' } }, { production: true }), { code: 'VIAL_ERR_WEAK_SECRET' });
    const dev = resolveSecurityOptions({ session: { store: 'cookie' } }, { production: false });
    assert.equal(dev.secretKeys.length, 1);
    assert.match(dev.secretWarning ?? '', /ephemeral/);
  });

  it('refuses out-of-bounds timeouts, a redis store without a url and inexact trusted origins', () => {
    const bad = [
      { session: { idleTimeoutMs: 10 } },
      { session: { idleTimeoutMs: 10 * 3_600_000, absoluteTimeoutMs: 3_600_000 } },
      { session: { store: 'redis' as const } },
      { csrf: { trustedOrigins: ['https://example.com/path'] } },
      { csrf: { trustedOrigins: ['example.com'] } },
      { csrf: { exemptPaths: ['hooks'] } },
      { csrf: { appOrigin: 'nope' } },
    ];
    for (const partial of bad) assert.throws(() => resolveSecurityOptions(partial, { production: false }), { code: 'VIAL_ERR_SECURITY_OPTIONS' }, JSON.stringify(partial));
    assert.deepEqual(resolveSecurityOptions({ csrf: { trustedOrigins: ['https://Admin.Example.com/'] } }, { production: false }).csrf.trustedOrigins, ['https://admin.example.com']);
  });

  it('builds a working session manager for each store choice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vial-security-options-'));
    try {
      for (const store of ['memory', 'sqlite', 'cookie', new MemorySessionStore()] as const) {
        const resolved = resolveSecurityOptions({ secretKey: strong, session: { store, sqlitePath: join(dir, 's.sqlite') } }, { production: true });
        const manager = createSessionManagerFromOptions(resolved);
        const session = await manager.load(undefined, false);
        session.login('alice');
        const cookie = await manager.commit(session);
        assert.equal((await manager.load(cookie?.value, false)).userId, 'alice', typeof store === 'string' ? store : 'custom store');
        await manager.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
