import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { GuestmodeError, isOptionError } from '@guestmode/core';
import { buildServer } from './app.js';
import { loadConfig, type ServerConfig } from './config.js';
import { openGuestmode } from './engine.js';
import { EVENTS_HELP, eventsCommand } from './event-cli.js';
import { MIGRATE_DATA_HELP, migrateDataCommand } from './migrate-data/index.js';
import { OPERATOR_HELP, type OperatorCliContext, operatorCommand } from './operator-cli.js';
import { describeSettings, SETTINGS } from './settings.js';
import { EXIT_CODES_HELP, EXIT_FAILURE, EXIT_USAGE, UsageError, wantsHelp } from './usage.js';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './usage.js';

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

/**
 * One command of the program. Adding a command is adding an entry to {@link COMMANDS}: `--help`
 * (of the program and of the command), usage errors and exit codes come with it.
 */
export interface Command {
  /** One line for the program's command list. */
  readonly summary: string;
  /** The command's full `--help` text, without the exit codes (appended for every command). */
  readonly help: () => string;
  /**
   * Runs the command with the arguments after its name; returns the exit code. `--help` never
   * reaches it. A `UsageError` or an option `TypeError` it throws exits with 2.
   */
  readonly run: (argv: readonly string[], io: CliIo) => Promise<number>;
  /** The command prints its own help (it hands its arguments to another program). */
  readonly ownHelp?: boolean;
}

/** The package's metadata, read at run time so `--version` is always the installed one. */
function packageJson(): { version: string; repository?: { url?: string } } {
  // src/cli.ts and dist/cli.js are both one folder below the package root.
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
}

function repositoryUrl(): string | undefined {
  const url = packageJson().repository?.url;
  return url?.replace(/^git\+/, '').replace(/\.git$/, '');
}

/** A safe one-line reason for a start-up failure (no stack, no connection string). */
function reason(error: unknown): string {
  if (error instanceof GuestmodeError) return error.message;
  if (error instanceof Error) return error.message.split('\n')[0]!;
  return String(error);
}

const SETTINGS_HELP = `Settings (a flag, or its environment variable; flags win):
${describeSettings(SETTINGS)}

Secrets (GUESTMODE_ADMIN_TOKEN, a database URL with a password) belong in the environment:
flags are visible to other users of the machine, so giving them as flags prints a warning.`;

async function serve(argv: readonly string[], io: CliIo): Promise<number> {
  const config = loadConfig({ env: io.env, argv, warn: io.err });
  let app: Awaited<ReturnType<typeof buildServer>>;
  try {
    app = await buildServer({
      config,
      logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    });
  } catch (error) {
    io.err(`guestmode: cannot start (GUESTMODE_DATABASE_URL): ${reason(error)}`);
    return EXIT_FAILURE;
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
    return EXIT_FAILURE;
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
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function purge(argv: readonly string[], io: CliIo): Promise<number> {
  const config: ServerConfig = loadConfig({ env: io.env, argv, warn: io.err });
  let guestmode: Awaited<ReturnType<typeof openGuestmode>>;
  try {
    // Purging needs no OIDC provider; leaving it out also means no discovery fetch.
    guestmode = await openGuestmode({ ...config, oidc: undefined }, { deliver: false });
  } catch (error) {
    io.err(`guestmode: cannot open the database (GUESTMODE_DATABASE_URL): ${reason(error)}`);
    return EXIT_FAILURE;
  }
  try {
    const { deleted } = await guestmode.purgeExpired();
    io.out(`guestmode: purged ${deleted} expired guest${deleted === 1 ? '' : 's'}`);
    return 0;
  } catch (error) {
    io.err(`guestmode: purge failed: ${reason(error)}`);
    return EXIT_FAILURE;
  } finally {
    await guestmode.close();
  }
}

async function idp(argv: readonly string[], io: CliIo): Promise<number> {
  let module: {
    runIdpCli?: (argv: string[], io?: { program?: string }) => Promise<number>;
  };
  try {
    // A variable specifier keeps the optional package out of type checking and bundling.
    const name = '@guestmode/idp';
    module = (await import(name)) as typeof module;
  } catch {
    io.err(
      'guestmode: the identity provider is a separate package; install it with `npm install @guestmode/idp`',
    );
    return EXIT_FAILURE;
  }
  if (typeof module.runIdpCli !== 'function') {
    io.err('guestmode: this version of @guestmode/idp has no command-line interface');
    return EXIT_FAILURE;
  }
  return module.runIdpCli([...argv], { program: 'guestmode idp' });
}

/** `guestmode guests …`, `users …` and `events …`: the operator's commands on the database. */
function operatorEntry(noun: 'guests' | 'users' | 'events', summary: string): Command {
  const usage = noun === 'events' ? EVENTS_HELP : OPERATOR_HELP;
  return {
    summary,
    help: () =>
      `Usage:\n${usage
        .split('\n')
        .filter((line) => line.includes(`guestmode ${noun} `) || line.startsWith('     '))
        .join('\n')}\n\n${SETTINGS_HELP}`,
    run: (argv, io) => {
      const cli: OperatorCliContext = {
        out: io.out,
        err: io.err,
        load: (flags) => loadConfig({ env: io.env, argv: flags, warn: io.err }),
        // Operator commands need no provider and no background purge.
        open: (config) =>
          openGuestmode(
            { ...config, oidc: undefined, purgeIntervalMs: 0 },
            // The serving processes deliver; an operator command only writes its events.
            { deliver: false },
          ),
        reason,
      };
      return noun === 'events' ? eventsCommand(argv, cli) : operatorCommand(noun, argv, cli);
    },
  };
}

/** The program's commands, in the order `--help` lists them. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  serve: {
    summary: 'start the HTTP service',
    help: () => `Usage: guestmode serve [flags]

Starts the HTTP service and runs until SIGTERM or SIGINT, then finishes the requests in
flight and closes the database. Probes: GET /livez (the process answers) and GET /readyz
(the database and the OIDC provider answer).

${SETTINGS_HELP}`,
    run: serve,
  },
  purge: {
    summary: 'delete expired guests now, then exit',
    help: () => `Usage: guestmode purge [flags]

Deletes every expired guest in one run and prints how many, for a cron job or a scheduled
task. Reads the same settings as serve (only the database one matters).

${SETTINGS_HELP}`,
    run: purge,
  },
  guests: operatorEntry('guests', 'list, inspect or delete guests (no secrets are shown)'),
  users: operatorEntry('users', "export or erase a user's profile and merge records"),
  events: operatorEntry('events', 'list the lifecycle events of the outbox, or resend one'),
  'migrate-data': {
    summary: 'copy every guest, attribute, merge record and counter to another store',
    help: () => MIGRATE_DATA_HELP,
    run: migrateDataCommand,
  },
  idp: {
    summary: 'the local Logto-compatible OpenID provider (package @guestmode/idp)',
    help: () => 'Usage: guestmode idp [command] [options]  (see guestmode idp --help)',
    run: idp,
    ownHelp: true,
  },
};

function programHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const url = repositoryUrl();
  return `guestmode: guest sessions, anonymous profiles and exactly-once merges into OIDC users

Usage: guestmode <command> [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

Run guestmode <command> --help for a command's flags and environment variables.

Examples:
  guestmode serve --port 4000 --database-url sqlite:./data/guestmode.db
  DATABASE_URL=postgres://app@db/guestmode guestmode serve
  guestmode purge

Options:
  -h, --help     show this help
  --version      print the version

${EXIT_CODES_HELP}${url ? `\n\nProject: ${url}` : ''}`;
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
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(programHelp());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' && rest[0] ? COMMANDS[rest[0]] : undefined;
    io.out(topic ? `${topic.help()}\n\n${EXIT_CODES_HELP}` : programHelp());
    return 0;
  }
  if (name === '--version') {
    io.out(packageJson().version);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    const what = name.startsWith('-') ? `unknown option ${name}` : `unknown command "${name}"`;
    io.err(`guestmode: ${what} (see guestmode --help)`);
    return EXIT_USAGE;
  }
  if (!command.ownHelp && wantsHelp(rest)) {
    io.out(`${command.help()}\n\n${EXIT_CODES_HELP}`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`guestmode ${name}: ${error.message} (see guestmode ${name} --help)`);
      return EXIT_USAGE;
    }
    if (isOptionError(error)) {
      io.err(`guestmode: ${error.message}`);
      return EXIT_USAGE;
    }
    throw error;
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
