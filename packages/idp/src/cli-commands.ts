import { readFile } from 'node:fs/promises';
import { GuestmodeError } from '@guestmode/core';
import type { Idp } from './idp.js';

/** Flags as `node:util` `parseArgs` describes them. */
export type FlagSpec = Record<
  string,
  { type: 'string' | 'boolean'; multiple?: boolean; short?: string }
>;

/** The values a command's flags parsed into. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** A mistake in how the program was called: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What an administrative command gets: its flags, the provider, and the CLI's input and output. */
export interface CommandContext {
  readonly values: FlagValues;
  /** Opens the provider's database (once); the CLI closes it. */
  readonly open: () => Idp;
  readonly env: NodeJS.ProcessEnv;
  readonly warn: (line: string) => void;
  /** Standard input, read to its end. */
  readonly readStdin: () => Promise<string>;
}

/**
 * One administrative command: it opens the provider's database, does one thing and returns the
 * JSON the CLI prints. Adding a command is adding an entry to {@link ADMIN_COMMANDS}; its help,
 * flag checks and exit codes come with it.
 */
export interface AdminCommand {
  /** The flags after the command's name, as the usage line shows them. */
  readonly synopsis: string;
  readonly summary: string;
  /** What the command prints and anything else worth knowing, for its --help. */
  readonly details: string;
  /** Its own flags (the database and provider flags are common to every command). */
  readonly flags: FlagSpec;
  readonly run: (ctx: CommandContext) => Promise<unknown>;
}

/** The environment variable `user create` reads the password from. */
export const PASSWORD_ENV = 'GUESTMODE_IDP_USER_PASSWORD';

function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`missing --${flag}`);
  return value;
}

const str = (values: FlagValues, key: string) => values[key] as string | undefined;
const list = (values: FlagValues, key: string) => values[key] as string[] | undefined;

/**
 * The password of `user create`: standard input (`--password-stdin`), the environment, or, with
 * a warning, `--password` (visible to every user of the machine and kept in shell history).
 */
async function password(ctx: CommandContext): Promise<string> {
  const flag = str(ctx.values, 'password');
  if (ctx.values['password-stdin']) {
    if (flag !== undefined) throw new UsageError('give --password or --password-stdin, not both');
    // One trailing newline is the end of the line `echo` or a heredoc writes, not the password.
    const input = (await ctx.readStdin()).replace(/\r?\n$/, '');
    if (input === '') throw new UsageError('--password-stdin: standard input is empty');
    return input;
  }
  if (flag !== undefined) {
    ctx.warn(
      `warning: --password on the command line is visible to other users of this machine; use --password-stdin or ${PASSWORD_ENV}`,
    );
    return flag;
  }
  const fromEnv = ctx.env[PASSWORD_ENV];
  if (fromEnv) return fromEnv;
  throw new UsageError(`missing password: pipe it to --password-stdin or set ${PASSWORD_ENV}`);
}

/** The administrative commands, by their words (`app create`). */
export const ADMIN_COMMANDS: Readonly<Record<string, AdminCommand>> = {
  'app create': {
    synopsis:
      '--name NAME --redirect-uri URL [--redirect-uri URL...] [--post-sign-out-redirect-uri URL...]',
    summary: 'register a traditional web app',
    details:
      'Prints {"appId","appSecret"}. The secret is shown once; keep it in your app\'s environment.',
    flags: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-sign-out-redirect-uri': { type: 'string', multiple: true },
    },
    run: ({ values, open }) =>
      open().createApplication({
        name: required(str(values, 'name'), 'name'),
        redirectUris: required(list(values, 'redirect-uri'), 'redirect-uri'),
        postLogoutRedirectUris: list(values, 'post-sign-out-redirect-uri') ?? [],
      }),
  },
  'app create-m2m': {
    synopsis: '--name NAME',
    summary: 'register a machine-to-machine app for the management API',
    details: 'Prints {"appId","appSecret"}.',
    flags: { name: { type: 'string' } },
    run: ({ values, open }) =>
      open().createM2MApplication({ name: required(str(values, 'name'), 'name') }),
  },
  'resource create': {
    synopsis: '--indicator URI [--name NAME] [--scope SCOPE...]',
    summary: 'register an API resource',
    details: 'Prints {"indicator"}. Access tokens for it carry the indicator as their audience.',
    flags: {
      indicator: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
    },
    run: ({ values, open }) => {
      const name = str(values, 'name');
      const scopes = list(values, 'scope');
      return open().createResource({
        indicator: required(str(values, 'indicator'), 'indicator'),
        ...(name !== undefined ? { name } : {}),
        ...(scopes ? { scopes } : {}),
      });
    },
  },
  'user create': {
    synopsis:
      '--username NAME (--password-stdin | $GUESTMODE_IDP_USER_PASSWORD) [--name NAME] [--email EMAIL]',
    summary: 'create a user',
    details: `Prints {"id","username"}. The password comes from standard input with --password-stdin
(printf '%s' "$PW" | guestmode-idp user create --username alice --password-stdin) or from
${PASSWORD_ENV}. --password PASSWORD still works but warns: command lines are visible to
other users of the machine.`,
    flags: {
      username: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      name: { type: 'string' },
      email: { type: 'string' },
    },
    run: async (ctx) => {
      const { values, open } = ctx;
      const username = required(str(values, 'username'), 'username');
      const secret = await password(ctx);
      const name = str(values, 'name');
      const email = str(values, 'email');
      const { id } = await open().createUser({
        username,
        password: secret,
        ...(name !== undefined ? { name } : {}),
        ...(email !== undefined ? { email } : {}),
      });
      return { id, username };
    },
  },
  token: {
    synopsis: '--user USER --resource URI [--scope SCOPE...] [--app APP_ID]',
    summary: 'print an access token for a user and an API resource',
    details: `Prints {"accessToken","tokenType","expiresIn","issuer","audience","userId","clientId","scope"}:
a JWT signed with the provider's keys, as a sign-in would get it (for curl walkthroughs and
scripts). --user is the user's id, username or email; --resource a registered indicator (the
token's audience); --scope narrows the scopes (default: every scope of the resource); --app
names the traditional web app it is issued to (default: the oldest). The issuer is
--endpoint's: give the endpoint the running provider uses.`,
    flags: {
      user: { type: 'string' },
      resource: { type: 'string' },
      scope: { type: 'string', multiple: true },
      app: { type: 'string' },
    },
    run: ({ values, open }) => {
      const scopes = list(values, 'scope');
      const appId = str(values, 'app');
      return open().issueAccessToken({
        user: required(str(values, 'user'), 'user'),
        resource: required(str(values, 'resource'), 'resource'),
        ...(scopes ? { scopes } : {}),
        ...(appId !== undefined ? { appId } : {}),
      });
    },
  },
  'connector add': {
    synopsis: '--file connector.json',
    summary: 'add a social connector',
    details: 'Prints {"id","target"}. The file holds the connector record (id, target, config).',
    flags: { file: { type: 'string' } },
    run: async ({ values, open }) => {
      const file = required(str(values, 'file'), 'file');
      let record: unknown;
      try {
        record = JSON.parse(await readFile(file, 'utf8'));
      } catch (cause) {
        throw new GuestmodeError('invalid_json', `${file} is not a readable JSON file`, { cause });
      }
      return open().addConnector(record);
    },
  },
};
