// Better Auth with its anonymous plugin, served through toNodeHandler on node:http with no
// framework in between. BENCH_DATABASE is `sqlite:<path>` (better-sqlite3 with the same settings
// as Guestmode's adapter: WAL, synchronous=NORMAL) or a postgres:// URL (a pg Pool of 10, the
// size Guestmode's adapter uses). Rate limit and telemetry off for the load run.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { anonymous } from 'better-auth/plugins/anonymous';

const url = process.env.BENCH_DATABASE ?? '';
const port = Number(process.env.PORT);
let database;
if (url.startsWith('sqlite:')) {
  // The runner passes the driver build that is safe on this Node.js (@guestmode/core/sqlite-driver).
  const Database = createRequire(import.meta.url)(
    process.env.BENCH_SQLITE_DRIVER || 'better-sqlite3',
  );
  database = new Database(url.slice('sqlite:'.length));
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
} else {
  const { default: pg } = await import('pg');
  database = new pg.Pool({ connectionString: url, max: 10 });
}

const options = {
  database,
  secret: 'bench-secret-bench-secret-bench-secret-0123',
  baseURL: `http://127.0.0.1:${port}`,
  plugins: [anonymous()],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { disabled: true },
};
const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);
const server = createServer(toNodeHandler(auth));
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  Promise.resolve(typeof database.end === 'function' ? database.end() : database.close()).then(() =>
    process.exit(0),
  );
});
