import { pathToFileURL } from 'node:url';
import { GuestmodeError, isOptionError } from '@guestmode/core';
import { buildServer } from './app.js';
import { loadConfig, SETTINGS, type ServerConfig } from './config.js';
import { openGuestmode } from './engine.js';
import { OPERATOR_HELP, operatorCommand } from './operator-cli.js';

/** Exit code of a bad setting or usage (as `sysexits`' EX_USAGE family: not a crash). */
export const EXIT_USAGE = 2;

const HELP = `guestmode: guest sessions, anonymous profiles and exactly-once merges into OIDC users

Usage:
  guestmode serve [flags]     start the HTTP service
  guestmode purge [flags]     delete expired guests now, then exit
  guestmode idp <command>     the local Logto-compatible OpenID provider (@guestmode/idp)
${OPERATOR_HELP}
  guestmode --help            this text

Settings (flag, or environment variable; flags win):
${SETTINGS.map((s) => `  --${s.flag.padEnd(16)} ${s.env.padEnd(26)} ${s.help}${s.default ? ` [${s.default}]` : ''}`).join('\n')}

Docs: docs/server.md
`;

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

/** A safe one-line reason for a start-up failure (no stack, no connection string). */
function reason(error: unknown): string {
  if (error instanceof GuestmodeError) return error.message;
  if (error instanceof Error) return error.message.split('\n')[0]!;
  return String(error);
}

function loadOrExplain(argv: readonly string[], io: CliIo): ServerConfig | undefined {
  try {
    return loadConfig({ env: io.env, argv });
  } catch (error) {
    if (isOptionError(error)) {
      io.err(`guestmode: ${error.message}`);
      return undefined;
    }
    throw error;
  }
}

async function serve(argv: readonly string[], io: CliIo): Promise<number> {
  const config = loadOrExplain(argv, io);
  if (!config) return EXIT_USAGE;
  let app: Awaited<ReturnType<typeof buildServer>>;
  try {
    app = await buildServer({
      config,
      logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    });
  } catch (error) {
    io.err(`guestmode: cannot start (GUESTMODE_DATABASE_URL): ${reason(error)}`);
    return 1;
  }
  if (!config.oidc) {
    app.log.warn(
      'GUESTMODE_OIDC_ISSUER is not set: guest-only mode, every access token is refused',
    );
  }
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    io.err(
      `guestmode: cannot listen on ${config.host}:${config.port} (HOST/PORT): ${reason(error)}`,
    );
    await app.close();
    return 1;
  }
  // Graceful shutdown: stop accepting, let in-flight requests finish, close the database.
  // A second signal exits at once.
  return new Promise<number>((resolve) => {
    let closing = false;
    const stop = (signal: NodeJS.Signals) => {
      if (closing) {
        process.exit(130);
      }
      closing = true;
      app.log.info({ signal }, 'shutting down');
      app.close().then(
        () => resolve(0),
        (error: unknown) => {
          io.err(`guestmode: shutdown failed: ${reason(error)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function purge(argv: readonly string[], io: CliIo): Promise<number> {
  const config = loadOrExplain(argv, io);
  if (!config) return EXIT_USAGE;
  let guestmode: Awaited<ReturnType<typeof openGuestmode>>;
  try {
    // Purging needs no OIDC provider; leaving it out also means no discovery fetch.
    guestmode = await openGuestmode({ ...config, oidc: undefined });
  } catch (error) {
    io.err(`guestmode: cannot open the database (GUESTMODE_DATABASE_URL): ${reason(error)}`);
    return 1;
  }
  try {
    const { deleted } = await guestmode.purgeExpired();
    io.out(`guestmode: purged ${deleted} expired guest${deleted === 1 ? '' : 's'}`);
    return 0;
  } catch (error) {
    io.err(`guestmode: purge failed: ${reason(error)}`);
    return 1;
  } finally {
    await guestmode.close();
  }
}

async function idp(argv: readonly string[], io: CliIo): Promise<number> {
  let module: { runIdpCli?: (argv: string[]) => Promise<number> };
  try {
    // A variable specifier keeps the optional package out of type checking and bundling.
    const name = '@guestmode/idp';
    module = (await import(name)) as typeof module;
  } catch {
    io.err(
      'guestmode: the identity provider is a separate package; install it with `npm install @guestmode/idp`',
    );
    return 1;
  }
  if (typeof module.runIdpCli !== 'function') {
    io.err('guestmode: this version of @guestmode/idp has no command-line interface');
    return 1;
  }
  return module.runIdpCli([...argv]);
}

/**
 * The `guestmode` program. Returns the exit code; `serve` resolves once the server has shut
 * down after SIGTERM or SIGINT.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest, io);
    case 'purge':
      return purge(rest, io);
    case 'idp':
      return idp(rest, io);
    case 'guests':
    case 'users':
      return operatorCommand(command, rest, {
        out: io.out,
        err: io.err,
        load: (flags) => loadOrExplain(flags, io),
        // Operator commands need no provider and no background purge.
        open: (config) => openGuestmode({ ...config, oidc: undefined, purgeIntervalMs: 0 }),
        reason,
      });
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      io.out(HELP);
      return command === undefined ? EXIT_USAGE : 0;
    default:
      io.err(`guestmode: unknown command "${command}" (try guestmode --help)`);
      return EXIT_USAGE;
  }
}

// Run when executed directly (`node --import tsx src/cli.ts serve`, or through bin/guestmode.js).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`guestmode: ${reason(error)}\n`);
      process.exitCode = 1;
    },
  );
}
