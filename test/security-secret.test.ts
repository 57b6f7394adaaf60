import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkSecret, secretWeakness, WEAK_SECRETS } from '../src/security/secret.ts';

const production = { production: true };
const strong = (): string => randomBytes(32).toString('base64url');

function refused(secret: string | undefined): void {
  assert.throws(
    () => checkSecret(secret, production),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'VIAL_ERR_WEAK_SECRET');
      assert.match(error.message, /randomBytes\(32\)\.toString\('base64url'\)/);
      assert.match(error.message, /VIAL_SECRET_KEY/);
      return true;
    },
    `should refuse ${JSON.stringify(secret)}`,
  );
}

describe('secret policy', () => {
  it('refuses a missing or empty secret in production', () => {
    refused(undefined);
    refused('');
  });

  it('refuses a secret shorter than 32 bytes in production', () => {
    refused(randomBytes(16).toString('base64url'));
  });

  it('refuses every well-known value, in any case, repeated or padded, in production', () => {
    for (const weak of ['secret', 'changeme', 'supersecretkey', 'development', 'password', 'keyboard cat', 'your-secret-key']) {
      for (const variant of [
        weak,
        weak.toUpperCase(),
        weak.repeat(Math.ceil(40 / weak.length)),
        `${weak}${'!'.repeat(40)}`,
        `${weak}-1234567890-1234567890-1234567890`,
        `__${weak.replace(/ /g, '_').toUpperCase()}__${'0'.repeat(32)}`,
      ]) {
        refused(variant);
      }
    }
    for (const weak of WEAK_SECRETS) refused(weak.padEnd(48, weak.at(-1) ?? 'x'));
  });

  it('refuses low-entropy and sequential secrets in production', () => {
    refused('a'.repeat(64));
    refused('abababababababababababababababababab');
    refused('abcdefghijklmnopqrstuvwxyz0123456789');
  });

  it('accepts a strong random secret, also hex and passphrase-like ones', () => {
    for (const secret of [strong(), randomBytes(32).toString('hex'), randomBytes(16).toString('hex'), 'ocean-tulip-gravel-mirth-83-quasar-lumen-fjord']) {
      assert.deepEqual(checkSecret(secret, production), { secret, ephemeral: false });
    }
  });

  it('accepts a strong secret that happens to contain a common word', () => {
    const secret = `${strong()}secret`;
    assert.equal(secretWeakness(secret), undefined);
  });

  it('hands out an ephemeral random secret with a warning in development', () => {
    const first = checkSecret(undefined, { production: false });
    const second = checkSecret(undefined, { production: false });
    assert.equal(first.ephemeral, true);
    assert.equal(Buffer.from(first.secret, 'base64url').length, 32);
    assert.notEqual(first.secret, second.secret);
    assert.match(first.warning ?? '', /ephemeral/);
    assert.match(first.warning ?? '', /VIAL_SECRET_KEY/);
  });

  it('keeps a weak secret in development but warns that production would refuse it', () => {
    const result = checkSecret('changeme', { production: false });
    assert.equal(result.secret, 'changeme');
    assert.equal(result.ephemeral, false);
    assert.match(result.warning ?? '', /production would refuse it/);
  });
});
