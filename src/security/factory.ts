/**
 * Turns resolved security options into a SessionManager: the one place that opens a store.
 * Called once at app start; the manager is closed at shutdown.
 */

import { createCookieSessionManager } from './cookie-session.ts';
import type { ResolvedSecurityOptions } from './options.ts';
import { createSessionManager, type LoggerLike, type SessionManager } from './session-manager.ts';
import type { SessionStore } from './stores/contract.ts';
import { MemorySessionStore } from './stores/memory.ts';
import { RedisSessionStore } from './stores/redis.ts';
import { SqliteSessionStore } from './stores/sqlite.ts';
import { traceSessionStore } from '../telemetry/child-spans.ts';

export interface SessionFactoryDeps {
  readonly logger?: LoggerLike;
}

export function createSessionManagerFromOptions(options: ResolvedSecurityOptions, deps: SessionFactoryDeps = {}): SessionManager {
  const s = options.session;
  const common = {
    cookieName: s.cookieName,
    idleTimeoutMs: s.idleTimeoutMs,
    absoluteTimeoutMs: s.absoluteTimeoutMs,
    secure: s.secure,
    sameSite: s.sameSite,
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    now: s.now,
  };
  if (s.store === 'cookie') return createCookieSessionManager({ ...common, secrets: options.secretKeys });
  let store: SessionStore;
  if (s.store === 'sqlite') store = new SqliteSessionStore({ path: s.sqlitePath, now: s.now });
  else if (s.store === 'memory') store = new MemorySessionStore({ maxEntries: s.maxEntries, now: s.now });
  else if (s.store === 'redis') store = new RedisSessionStore({ client: s.redisUrl as string, prefix: s.redisPrefix });
  else store = s.store;
  // A span per store call inside traced requests; the store itself when no SDK is registered.
  return createSessionManager({ ...common, store: traceSessionStore(store) });
}
