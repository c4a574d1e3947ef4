import { loadSqliteDriver } from '@guestmode/core/sqlite-driver';
import type Database from 'better-sqlite3';
import session from 'express-session';

const DAY_MS = 86_400_000;

/**
 * A small express-session store on SQLite: sessions survive restarts of the demo, and there is no
 * MemoryStore warning in production. Expired rows are swept every 10 minutes.
 */
export class SqliteSessionStore extends session.Store {
  readonly #db: Database.Database;
  readonly #timer: NodeJS.Timeout;

  constructor(file: string) {
    super();
    this.#db = new (loadSqliteDriver().Database)(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID',
    );
    this.#timer = setInterval(() => this.sweep(), 10 * 60_000);
    this.#timer.unref();
  }

  #expiry(data: session.SessionData): number {
    const expires = data.cookie?.expires;
    return expires ? new Date(expires).getTime() : Date.now() + DAY_MS;
  }

  override get(sid: string, callback: (err: unknown, data?: session.SessionData | null) => void) {
    try {
      const row = this.#db
        .prepare('SELECT data, expires_at FROM sessions WHERE sid = ?')
        .get(sid) as { data: string; expires_at: number } | undefined;
      if (!row || row.expires_at <= Date.now()) callback(null, null);
      else callback(null, JSON.parse(row.data) as session.SessionData);
    } catch (error) {
      callback(error);
    }
  }

  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void) {
    try {
      this.#db
        .prepare(
          'INSERT INTO sessions (sid, data, expires_at) VALUES (?, ?, ?) ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at',
        )
        .run(sid, JSON.stringify(data), this.#expiry(data));
      callback?.();
    } catch (error) {
      callback?.(error);
    }
  }

  override destroy(sid: string, callback?: (err?: unknown) => void) {
    try {
      this.#db.prepare('DELETE FROM sessions WHERE sid = ?').run(sid);
      callback?.();
    } catch (error) {
      callback?.(error);
    }
  }

  override touch(sid: string, data: session.SessionData, callback?: () => void) {
    this.#db
      .prepare('UPDATE sessions SET expires_at = ? WHERE sid = ?')
      .run(this.#expiry(data), sid);
    callback?.();
  }

  sweep(): number {
    return this.#db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(Date.now()).changes;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#db.close();
  }
}
