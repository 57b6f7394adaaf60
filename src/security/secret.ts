/**
 * The secret-key policy: vial refuses to start in production with a missing, short, low-entropy
 * or well-known secret (the "secret_key = 'supersecretkey'" failure), and in development hands
 * out an ephemeral random one with a warning instead of silently using a constant.
 *
 * Pure module apart from drawing random bytes for the development secret; no I/O, no timers.
 */

import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.ts';

export const SECRET_ENV_VAR = 'VIAL_SECRET_KEY';
export const MIN_SECRET_BYTES = 32;
/**
 * Estimated bits a secret must carry. The estimate (character distribution of one sample) runs
 * well below the true entropy of short random strings: 32 random hex characters (128 real bits)
 * score 116 on median and as low as 91 in 200,000 draws, so the bar sits at 80 to never refuse a
 * real random key while still refusing repeated patterns ("abcabc...": about 60).
 */
export const MIN_SECRET_ENTROPY_BITS = 80;

const GENERATE_HINT =
  `Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))" ` +
  `and set it in the ${SECRET_ENV_VAR} environment variable (keep it out of source control).`;

import { WEAK_SECRETS } from '../internal/weak-secrets.ts';

export { WEAK_SECRETS };

// Longest first, so "supersecretkey" is removed before "secret" splits it.
const WEAK_BY_LENGTH = [...WEAK_SECRETS].sort((a, b) => b.length - a.length);

export interface SecretCheck {
  readonly secret: string;
  /** True when vial generated the secret because none was given (development only). */
  readonly ephemeral: boolean;
  /** Set in development when the secret would be refused in production. */
  readonly warning?: string;
}

/** Shannon entropy of the character distribution times the length: a cheap upper-bound estimate. */
export function estimateEntropyBits(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const length = [...value].length;
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / length;
    perChar -= p * Math.log2(p);
  }
  return perChar * length;
}

/** Share of neighbouring characters that repeat or step by one code point ("aaaa", "abcd", "4321"). */
function sequentialShare(value: string): number {
  if (value.length < 2) return 1;
  let runs = 0;
  for (let i = 1; i < value.length; i++) {
    if (Math.abs(value.charCodeAt(i) - value.charCodeAt(i - 1)) <= 1) runs++;
  }
  return runs / (value.length - 1);
}

/** Returns why the secret is weak, or undefined when it passes. */
export function secretWeakness(secret: string | undefined): string | undefined {
  if (secret === undefined || secret.length === 0) return 'no secret key is set';
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < MIN_SECRET_BYTES) return `the secret key is ${bytes} bytes long; at least ${MIN_SECRET_BYTES} are required`;
  const normalized = secret.toLowerCase().replace(/[^a-z0-9]/g, '');
  let remainder = normalized;
  for (const weak of WEAK_BY_LENGTH) {
    if (weak.length >= 3) remainder = remainder.split(weak).join('');
  }
  // A known value repeated or padded ("changeme!!!!...", "secretsecretsecret...", "password1234...").
  if (remainder !== normalized && (remainder.length < 16 || estimateEntropyBits(remainder) < 64)) {
    return 'the secret key is a well-known placeholder value (possibly repeated or padded)';
  }
  if (estimateEntropyBits(secret) < MIN_SECRET_ENTROPY_BITS || sequentialShare(secret) > 0.75) {
    return 'the secret key has too little entropy (repeated or sequential characters)';
  }
  return undefined;
}

/**
 * Applies the policy. Production: throws ConfigError `VIAL_ERR_WEAK_SECRET` for a weak or missing
 * secret. Development: a missing secret is replaced by an ephemeral random one (sessions and
 * signed values do not survive a restart), a weak one is kept; both come back with a warning.
 */
export function checkSecret(secret: string | undefined, options: { production: boolean }): SecretCheck {
  const weakness = secretWeakness(secret);
  if (weakness === undefined) return { secret: secret as string, ephemeral: false };
  if (options.production) {
    throw new ConfigError('VIAL_ERR_WEAK_SECRET', `Refusing to start in production: ${weakness}. ${GENERATE_HINT}`);
  }
  if (secret === undefined || secret.length === 0) {
    return {
      secret: randomBytes(32).toString('base64url'),
      ephemeral: true,
      warning:
        'No secret key is set; using an ephemeral random one for this process, so sessions and signed ' +
        `values will not survive a restart or be shared between workers. ${GENERATE_HINT}`,
    };
  }
  return { secret, ephemeral: false, warning: `Weak secret key: ${weakness}; production would refuse it. ${GENERATE_HINT}` };
}
