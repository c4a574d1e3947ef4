// What the PostgreSQL tests do to look inside the adapter: see the statements it sends, and
// query a database its migrations have set up.
import { openPostgresStorage } from '@guestmode/core/postgres';
import pg from 'pg';

/** Records the text of every statement sent through `pool`'s connections, in order. */
export function recordStatements(pool: pg.Pool): string[] {
  const sent: string[] = [];
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const [first] = args;
      sent.push(typeof first === 'string' ? first : (first as { text: string }).text);
      return query(...args);
    };
  });
  return sent;
}

/** A client connected to `url` after the adapter has migrated it (the caller ends it). */
export async function migratedClient(url: string): Promise<pg.Client> {
  const storage = await openPostgresStorage({ database: url });
  await storage.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}
