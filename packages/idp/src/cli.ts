import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { GuestmodeError, isOptionError } from '@guestmode/core';
import { SchemaTooNewError } from '@guestmode/core/migrations';
import { createIdp, type Idp, type IdpOptions } from './idp.js';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Resolves when a running provider should stop. Default: SIGINT or SIGTERM. */
  stopSignal?: Promise<void>;
  /** Called once a started provider listens (tests use it to learn the URL). */
  onListening?: (idp: Idp) => void;
}

const USAGE = `Usage: guestmode idp [command] [options]

Commands:
  (none)                     start the provider and print its URL
  app create --name NAME --redirect-uri URL [--redirect-uri URL...]
             [--post-sign-out-redirect-uri URL...]
                             register a traditional web app; prints {"appId","appSecret"}
  app create-m2m --name NAME register a machine-to-machine app for the management API
  resource create --indicator URI [--name NAME] [--scope SCOPE...]
                             register an API resource; prints {"indicator"}
  user create --username NAME --password PASSWORD [--name NAME] [--email EMAIL]
                             create a user; prints {"id","username"}
  connector add --file connector.json
                             add a social connector; prints {"id","target"}

Options:
  --database PATH            SQLite file (default ./data/idp.db)
  --endpoint URL             public origin (default http://localhost:3001)
  --host HOST                interface to bind when starting (default 127.0.0.1)
  --port PORT                port to bind when starting (default: the endpoint's)
  --allow-production         start even with NODE_ENV=production (not recommended)
  --dev                      a development/demo setup: allows a non-loopback --host or
                             --endpoint (also GUESTMODE_DEV=1)
  -h, --help                 show this help

Development only: this provider is not for production. Social token storage needs
GUESTMODE_IDP_VAULT_KEY (32 bytes, base64url or hex).`;

class UsageError extends Error {}

const OPTIONS = {
  database: { type: 'string' },
  endpoint: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'allow-production': { type: 'boolean' },
  dev: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  name: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-sign-out-redirect-uri': { type: 'string', multiple: true },
  indicator: { type: 'string' },
  scope: { type: 'string', multiple: true },
  username: { type: 'string' },
  password: { type: 'string' },
  email: { type: 'string' },
  file: { type: 'string' },
} as const;

function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`missing --${flag}`);
  return value;
}

function defaultStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/**
 * The `idp` command line (`guestmode idp …` dispatches here). Every admin command prints one
 * JSON object on stdout so scripts can use it.
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
  let idp: Idp | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      out(USAGE);
      return 0;
    }
    let port: number | undefined;
    if (values.port !== undefined) {
      port = Number(values.port);
      if (!/^\d+$/.test(values.port)) throw new UsageError('--port must be a number');
    }
    const options: IdpOptions = {
      ...(values.database !== undefined ? { database: values.database } : {}),
      ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values['allow-production'] ? { allowProduction: true } : {}),
      ...(values.dev ? { development: true } : {}),
      ...(io?.env ? { env: io.env } : {}),
      warn: err,
    };
    const command = positionals.join(' ');
    const print = (value: unknown) => out(JSON.stringify(value));

    const open = () => {
      idp = createIdp(options);
      return idp;
    };
    /** Administrative commands: each opens the provider's database and prints one JSON result. */
    const admin: Record<string, () => Promise<unknown>> = {
      'app create': () =>
        open().createApplication({
          name: required(values.name, 'name'),
          redirectUris: required(values['redirect-uri'], 'redirect-uri'),
          postLogoutRedirectUris: values['post-sign-out-redirect-uri'] ?? [],
        }),
      'app create-m2m': () => open().createM2MApplication({ name: required(values.name, 'name') }),
      'resource create': () =>
        open().createResource({
          indicator: required(values.indicator, 'indicator'),
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(values.scope ? { scopes: values.scope } : {}),
        }),
      'user create': async () => {
        const provider = open();
        const username = required(values.username, 'username');
        const { id } = await provider.createUser({
          username,
          password: required(values.password, 'password'),
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(values.email !== undefined ? { email: values.email } : {}),
        });
        return { id, username };
      },
      'connector add': async () => {
        const file = required(values.file, 'file');
        let record: unknown;
        try {
          record = JSON.parse(await readFile(file, 'utf8'));
        } catch (cause) {
          throw new GuestmodeError('invalid_json', `${file} is not a readable JSON file`, {
            cause,
          });
        }
        return open().addConnector(record);
      },
    };
    const run = Object.hasOwn(admin, command) ? admin[command] : undefined;
    if (run) {
      print(await run());
      return 0;
    }

    if (command !== '') throw new UsageError(`unknown command "${command}"`);
    const provider = open();
    const { url } = await provider.listen();
    out(`Guestmode local IdP listening on ${url} (issuer ${provider.issuer})`);
    io?.onListening?.(provider);
    await (io?.stopSignal ?? defaultStopSignal());
    return 0;
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      err(`error: ${(error as Error).message}\n\n${USAGE}`);
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
