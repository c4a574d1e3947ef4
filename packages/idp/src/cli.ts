import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { GuestmodeError, isOptionError, optionError } from '@guestmode/core';
import { SchemaTooNewError } from '@guestmode/core/migrations';
import {
  ADMIN_COMMANDS,
  type AdminCommand,
  type FlagSpec,
  type FlagValues,
  UsageError,
} from './cli-commands.js';
import { createIdp, type Idp, type IdpOptions } from './idp.js';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Standard input, read to its end (`user create --password-stdin`). Default: process.stdin. */
  stdin?: () => Promise<string>;
  /** The program's name in help and messages. Default `guestmode-idp`. */
  program?: string;
  /** Resolves when a running provider should stop. Default: SIGINT or SIGTERM. */
  stopSignal?: Promise<void>;
  /** Called once a started provider listens (tests use it to learn the URL). */
  onListening?: (idp: Idp) => void;
}

/** Flags every command takes: where the data is and which provider it belongs to. */
const COMMON_FLAGS: FlagSpec = {
  'database-url': { type: 'string' },
  database: { type: 'string' },
  endpoint: { type: 'string' },
  'allow-production': { type: 'boolean' },
  dev: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Flags of starting the provider. */
const START_FLAGS: FlagSpec = {
  ...COMMON_FLAGS,
  host: { type: 'string' },
  port: { type: 'string' },
  version: { type: 'boolean' },
};

const COMMON_HELP = `  --database-url URL   sqlite:PATH or a file path (default sqlite:./data/idp.db); env
                       GUESTMODE_IDP_DATABASE_URL, then DATABASE_URL. The provider stores its
                       data in SQLite only. --database PATH is a deprecated alias.
  --endpoint URL       public origin (default http://localhost:3001); env GUESTMODE_IDP_ENDPOINT
  --allow-production   run even with NODE_ENV=production (not recommended)
  --dev                a development/demo setup: allows a non-loopback --host or --endpoint
                       (also GUESTMODE_DEV=1)
  -h, --help           show help`;

const EXIT_HELP = `Exit codes:
  0  success
  1  runtime failure (the provider refused the request, database unusable, port in use)
  2  usage error (unknown command or option, missing or bad value)`;

function packageJson(): { version: string; repository?: { url?: string } } {
  // src/cli.ts and dist/cli.js are both one folder below the package root.
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
}

function programHelp(program: string): string {
  const names = Object.keys(ADMIN_COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const url = packageJson()
    .repository?.url?.replace(/^git\+/, '')
    .replace(/\.git$/, '');
  return `${program}: a local, Logto-compatible OpenID provider for development, demos and tests

Usage:
  ${program} [options]              start the provider and print its URL
  ${program} <command> [options]    administer it; each command prints one JSON object

Commands:
${names.map((n) => `  ${n.padEnd(width)}  ${ADMIN_COMMANDS[n]!.summary}`).join('\n')}

Run ${program} <command> --help for a command's options.

Options:
${COMMON_HELP}
  --host HOST          interface to bind when starting (default 127.0.0.1); env HOST
  --port PORT          port to bind when starting (default: the endpoint's); env PORT
  --version            print the version

Development only: this provider is not for production. Social token storage needs
GUESTMODE_IDP_VAULT_KEY (32 bytes, base64url or hex).

${EXIT_HELP}${url ? `\n\nProject: ${url}` : ''}`;
}

function commandHelp(program: string, name: string, command: AdminCommand): string {
  return `Usage: ${program} ${name} ${command.synopsis} [options]

${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}. ${command.details}

Options:
${COMMON_HELP}

${EXIT_HELP}`;
}

/** The commands of a group (`app` → `app create`, `app create-m2m`). */
function groupHelp(program: string, group: string): string | undefined {
  const names = Object.keys(ADMIN_COMMANDS).filter((n) => n.startsWith(`${group} `));
  if (names.length === 0) return undefined;
  return `Usage: ${program} ${group} <command> [options]

Commands:
${names.map((n) => `  ${n.padEnd(Math.max(...names.map((m) => m.length)))}  ${ADMIN_COMMANDS[n]!.summary}`).join('\n')}

Run ${program} ${group} <command> --help for a command's options.

${EXIT_HELP}`;
}

/** Every flag any command knows, so the command's words can be told from flag values. */
const ALL_FLAGS: FlagSpec = Object.assign(
  {},
  START_FLAGS,
  ...Object.values(ADMIN_COMMANDS).map((c) => c.flags),
);

/** `sqlite:PATH`, `sqlite::memory:` or a file path; anything else names the setting. */
function databasePath(setting: string, value: string): string {
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw optionError(setting, 'sqlite: needs a file path');
    return path;
  }
  // Never echo the value: it may be a connection string with a password.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw optionError(
      setting,
      'must be sqlite:PATH or a file path (the provider stores in SQLite)',
    );
  }
  if (value.trim() === '') throw optionError(setting, 'must not be empty');
  return value;
}

function readProcessStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function defaultStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

function parseStrict(argv: string[], options: FlagSpec) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown option ${unknown[1]}`);
    const missing = /Option '([^ ']+)[^']*' argument missing/.exec(message);
    if (missing) throw new UsageError(`option ${missing[1]} needs a value`);
    throw new UsageError(message.replace(/\.$/, ''));
  }
}

/**
 * The provider's command line (`guestmode-idp …`, and `guestmode idp …` dispatches here).
 * Every admin command prints one JSON object on stdout so scripts can use it.
 *
 * @returns the process exit code: 0 success, 1 error, 2 usage error or bad option.
 * @example
 * ```ts
 * process.exitCode = await runIdpCli(process.argv.slice(2));
 * ```
 */
export async function runIdpCli(argv: string[], io?: Partial<CliIo>): Promise<number> {
  const out = io?.stdout ?? ((text: string) => process.stdout.write(`${text}\n`));
  const err = io?.stderr ?? ((text: string) => process.stderr.write(`${text}\n`));
  const env = io?.env ?? process.env;
  const program = io?.program ?? 'guestmode-idp';
  let idp: Idp | undefined;
  let hint = `${program} --help`;
  try {
    // A lenient pass finds the command's words whatever flags come with them.
    const words = parseArgs({
      args: argv,
      options: ALL_FLAGS,
      allowPositionals: true,
      strict: false,
    }).positionals;
    const name = words.join(' ');
    const command = Object.hasOwn(ADMIN_COMMANDS, name) ? ADMIN_COMMANDS[name] : undefined;
    if (name !== '') hint = `${program} ${command ? name : words[0]} --help`;
    if (argv.includes('--help') || argv.includes('-h')) {
      const help = command
        ? commandHelp(program, name, command)
        : name === ''
          ? programHelp(program)
          : words.length === 1
            ? groupHelp(program, name)
            : undefined;
      if (help === undefined) throw new UsageError(`unknown command "${name}"`);
      out(help);
      return 0;
    }
    if (name !== '' && !command) {
      const group = words.length === 1 && groupHelp(program, name) !== undefined;
      throw new UsageError(group ? `"${name}" needs a command` : `unknown command "${name}"`);
    }
    const values = parseStrict(argv, command ? { ...COMMON_FLAGS, ...command.flags } : START_FLAGS)
      .values as FlagValues;
    if (values.version) {
      out(packageJson().version);
      return 0;
    }
    const options = providerOptions(values, env, err, command === undefined);
    const open = () => {
      idp ??= createIdp(options);
      return idp;
    };
    if (command) {
      const result = await command.run({
        values,
        open,
        env,
        warn: err,
        readStdin: io?.stdin ?? readProcessStdin,
      });
      out(JSON.stringify(result));
      return 0;
    }
    const provider = open();
    const { url } = await provider.listen();
    out(`Guestmode local IdP listening on ${url} (issuer ${provider.issuer})`);
    io?.onListening?.(provider);
    await (io?.stopSignal ?? defaultStopSignal());
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`${program}: ${error.message} (see ${hint})`);
      return 2;
    }
    if (isOptionError(error)) {
      err(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof GuestmodeError) {
      err(`error: ${error.code}: ${error.message}`);
      return 1;
    }
    // A database migrated by a newer release: an operator's matter, said plainly.
    if (error instanceof SchemaTooNewError) {
      err(`error: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await idp?.close();
  }
}

/** `createIdp`'s options from the flags and the environment (flags win). */
function providerOptions(
  values: FlagValues,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
  starting: boolean,
): IdpOptions {
  const fromEnv = (...names: string[]) => {
    for (const name of names) if (env[name]) return { name, value: env[name] };
    return undefined;
  };
  const flag = (key: string, setting = `--${key}`) =>
    typeof values[key] === 'string' ? { name: setting, value: values[key] } : undefined;
  if (values.database !== undefined) {
    if (values['database-url'] !== undefined) {
      throw new UsageError('give --database-url or --database, not both');
    }
    warn('warning: --database is deprecated; use --database-url (sqlite:PATH or a file path)');
  }
  const db =
    flag('database-url') ??
    flag('database') ??
    fromEnv('GUESTMODE_IDP_DATABASE_URL', 'DATABASE_URL');
  const endpoint = flag('endpoint') ?? fromEnv('GUESTMODE_IDP_ENDPOINT');
  const host = starting ? (flag('host') ?? fromEnv('HOST')) : undefined;
  const port = starting ? (flag('port') ?? fromEnv('PORT')) : undefined;
  if (port && !/^\d+$/.test(port.value)) {
    throw optionError(port.name, `"${port.value}" must be a port number`);
  }
  return {
    ...(db ? { database: databasePath(db.name, db.value) } : {}),
    ...(endpoint ? { endpoint: endpoint.value } : {}),
    ...(host ? { host: host.value } : {}),
    ...(port ? { port: Number(port.value) } : {}),
    ...(values['allow-production'] ? { allowProduction: true } : {}),
    ...(values.dev ? { development: true } : {}),
    env,
    warn,
  };
}

// Run when executed directly (`node --import tsx src/cli.ts`, as bin/guestmode-idp.js does in a
// repository checkout that has not been built).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runIdpCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
