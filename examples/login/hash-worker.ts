/**
 * Runs in vial's worker-thread pool (ctx.offload): scrypt is deliberately slow, ~50 ms of CPU per
 * hash, which on the event loop would stall every other request for that long.
 */
import { scryptSync } from 'node:crypto';

export interface HashJob {
  readonly password: string;
  /** base64 */
  readonly salt: string;
}

/** The scrypt parameters the stored hashes were made with; both sides must agree. */
export const SCRYPT = { N: 16_384, r: 8, p: 1, keyLength: 64 } as const;

export default function hashPassword(job: HashJob): string {
  const { N, r, p, keyLength } = SCRYPT;
  return scryptSync(job.password, Buffer.from(job.salt, 'base64'), keyLength, { N, r, p }).toString('base64');
}
