/**
 * Request ids: unique in this process and across its siblings, without a random call per request.
 * A leaf module.
 */
let nextId = 0;
// A per-process prefix keeps ids unique across workers and restarts without a random call per request.
const ID_PREFIX = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** A request id unique in this process and across its siblings: `<pid><time>-<counter>`. */
export function nextRequestId(): string {
  return `${ID_PREFIX}-${(nextId++).toString(36)}`;
}

