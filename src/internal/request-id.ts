/**
 * Request ids: unique in this process and across its siblings, without a random call per request.
 * A leaf module.
 */
import { randomBytes } from 'node:crypto';

let nextId = 0;
// A random per-process prefix keeps ids unique across workers and restarts. Intentionally not the
// pid: ids reach clients, and a pid tells them how many processes there are, which one answered
// and when it restarted.
const ID_PREFIX = randomBytes(5).toString('hex');

/** A request id unique in this process and across its siblings: `<random>-<counter>`. */
export function nextRequestId(): string {
  return `${ID_PREFIX}-${(nextId++).toString(36)}`;
}
