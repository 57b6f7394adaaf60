/**
 * Session store on SQLite through `node:sqlite` (built into Node 22.13+ and 24, no native addon).
 * One database file is shared by every worker process on the machine: WAL mode lets readers run
 * beside the one writer, and busy_timeout makes a writer wait for the lock instead of failing with
 * SQLITE_BUSY. Expired rows are refused on read and swept in small batches on an unref'd timer,
 * so the file does not grow with abandoned sessions and the timer never keeps a process alive.
 *
 * DatabaseSync runs on the calling thread: each call is a short indexed lookup on a local file.
 */

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { ConfigError } from '../../errors.ts';
import { assertTtl, settle, type SessionRecord, type SessionStore } from './contract.ts';
import { sessionChannel } from '../session-manager.ts';

export interface SqliteStoreOptions {
  /** Database file; its directory is created if missing. ':memory:' for a private in-process database. */
  readonly path: string;
  /** How long a writer waits for another process's lock. Default 5,000. */
  readonly busyTimeoutMs?: number;
  /** Interval of the background sweep of expired rows; 0 disables it. Default 60,000. */
  readonly sweepIntervalMs?: number;
  /** Rows removed per sweep statement, so one sweep never holds the write lock for long. Default 1,000. */
  readonly sweepBatchSize?: number;
  /** Clock in epoch milliseconds; tests inject one to expire rows without waiting. */
  readonly now?: () => number;
}

// The same channel as session-manager.ts (channels are shared by name); not imported to keep stores leaf modules.

type SqliteModule = typeof import('node:sqlite');

let sqliteModule: SqliteModule | undefined;

/**
 * Loads node:sqlite on first use only, so apps on another store never load it. Node 22 marks the
 * module experimental and prints an ExperimentalWarning once per process (per worker); the API
 * vial uses (DatabaseSync, prepare, run/get/all) is unchanged from 22.13 to 24, where the warning
 * is gone. Intentionally, that one warning is filtered while the module loads; every other
 * warning passes through untouched.
 */
function loadSqlite(): SqliteModule {
  if (sqliteModule !== undefined) return sqliteModule;
  const require = createRequire(import.meta.url);
  const original = Reflect.get(process, 'emitWarning') as (...args: unknown[]) => void;
  function filtered(this: unknown, warning: unknown, ...rest: unknown[]): void {
    const message = warning instanceof Error ? warning.message : String(warning);
    const option = rest[0];
    const type = warning instanceof Error ? warning.name : typeof option === 'string' ? option : (option as { type?: unknown } | undefined)?.type;
    if (type === 'ExperimentalWarning' && message.startsWith('SQLite')) return;
    Reflect.apply(original, this, [warning, ...rest]);
  }
  Reflect.set(process, 'emitWarning', filtered);
  try {
    sqliteModule = require('node:sqlite') as SqliteModule;
  } catch (cause) {
    throw new ConfigError(
      'VIAL_ERR_SQLITE_UNAVAILABLE',
      `node:sqlite could not be loaded (${(cause as Error).message}). Use Node 22.13+ or 24, or choose the 'memory' or 'redis' session store.`,
    );
  } finally {
    Reflect.set(process, 'emitWarning', original);
  }
  return sqliteModule;
}

interface Row {
  data: string;
  user_id: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

export class SqliteSessionStore implements SessionStore {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #get: StatementSync;
  readonly #set: StatementSync;
  readonly #update: StatementSync;
  readonly #destroy: StatementSync;
  readonly #destroyUser: StatementSync;
  readonly #sweep: StatementSync;
  readonly #batch: number;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
    const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    const batch = options.sweepBatchSize ?? 1_000;
    if (batch === 0) throw new ConfigError('VIAL_ERR_SESSION_OPTIONS', 'SQLite session store sweepBatchSize must be at least 1.');
    for (const [name, value] of [['busyTimeoutMs', busyTimeoutMs], ['sweepIntervalMs', sweepIntervalMs], ['sweepBatchSize', batch]] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new ConfigError('VIAL_ERR_SESSION_OPTIONS', `SQLite session store ${name} must be a non-negative integer, got ${value}.`);
      }
    }
    const { DatabaseSync } = loadSqlite();
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#now = options.now ?? Date.now;
    this.#batch = batch;
    // busy_timeout first: switching to WAL itself needs the lock when another worker holds it.
    this.#db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    this.#db.exec('PRAGMA journal_mode = WAL');
    // NORMAL is durable across application crashes in WAL mode; only an OS crash can lose the last commits.
    this.#db.exec('PRAGMA synchronous = NORMAL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS vial_sessions (
        key TEXT PRIMARY KEY,
        user_id TEXT,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS vial_sessions_user ON vial_sessions (user_id) WHERE user_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS vial_sessions_expiry ON vial_sessions (expires_at);
    `);
    this.#get = this.#db.prepare('SELECT data, user_id, created_at, last_seen_at, expires_at FROM vial_sessions WHERE key = ?');
    this.#set = this.#db.prepare(
      'INSERT OR REPLACE INTO vial_sessions (key, user_id, data, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#update = this.#db.prepare(
      'UPDATE vial_sessions SET user_id = ?, data = ?, created_at = ?, last_seen_at = ?, expires_at = ? WHERE key = ? AND expires_at > ?',
    );
    this.#destroy = this.#db.prepare('DELETE FROM vial_sessions WHERE key = ?');
    this.#destroyUser = this.#db.prepare('DELETE FROM vial_sessions WHERE user_id = ? AND expires_at > ?');
    // DELETE ... LIMIT needs a compile-time option; a keyed subquery bounds the batch portably.
    this.#sweep = this.#db.prepare(
      `DELETE FROM vial_sessions WHERE key IN (SELECT key FROM vial_sessions WHERE expires_at <= ? LIMIT ${batch})`,
    );
    if (sweepIntervalMs > 0) {
      this.#timer = setInterval(() => this.#sweepSafely(), sweepIntervalMs);
      this.#timer.unref();
    }
  }

  get(key: string): Promise<SessionRecord | undefined> {
    return settle(() => {
      const row = this.#get.get(key) as Row | undefined;
      if (row === undefined) return undefined;
      if (row.expires_at <= this.#now()) {
        this.#destroy.run(key);
        return undefined;
      }
      const record: SessionRecord = {
        data: JSON.parse(row.data) as Record<string, unknown>,
        createdAt: row.created_at,
        lastSeenAt: row.last_seen_at,
      };
      return row.user_id === null ? record : { ...record, userId: row.user_id };
    });
  }

  set(key: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return settle(() => {
      assertTtl(ttlMs);
      const json = JSON.stringify(record.data);
      this.#set.run(key, record.userId ?? null, json, record.createdAt, record.lastSeenAt, this.#now() + ttlMs);
    });
  }

  update(key: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    return settle(() => {
      assertTtl(ttlMs);
      const json = JSON.stringify(record.data);
      const now = this.#now();
      const result = this.#update.run(record.userId ?? null, json, record.createdAt, record.lastSeenAt, now + ttlMs, key, now);
      return Number(result.changes) > 0;
    });
  }

  destroy(key: string): Promise<void> {
    return settle(() => {
      this.#destroy.run(key);
    });
  }

  destroyAllForUser(userId: string): Promise<number> {
    return settle(() => {
      const live = Number(this.#destroyUser.run(userId, this.#now()).changes);
      this.sweep();
      return live;
    });
  }

  /** Removes expired rows in batches; returns how many went. Called by the timer; public for tests and CLI. */
  sweep(): number {
    let total = 0;
    for (;;) {
      const removed = Number(this.#sweep.run(this.#now()).changes);
      total += removed;
      if (removed < this.#batch) return total;
    }
  }

  close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (!this.#closed) {
      this.#closed = true;
      this.#db.close();
    }
    return Promise.resolve();
  }

  #sweepSafely(): void {
    try {
      this.sweep();
    } catch (error) {
      // A locked database (another worker sweeping) only delays the sweep to the next tick: report, carry on.
      if (sessionChannel.hasSubscribers) sessionChannel.publish({ event: 'store-error', operation: 'sweep', error });
    }
  }
}
