/** Runs in a worker thread (ctx.offload): scrypt is deliberately slow, so it must not run on the event loop. */
import { scryptSync } from 'node:crypto';

export default function hash(password: string): string {
  // A fixed salt keeps the example deterministic; real code stores a random salt per user.
  return scryptSync(password, 'vial-example-salt', 32).toString('base64url');
}
