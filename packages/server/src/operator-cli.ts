import type { Guestmode } from '@guestmode/core';
import type { ServerConfig } from './config.js';

/** What the operator commands borrow from the `guestmode` program. */
export interface OperatorCliContext {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Reads the settings from the flags and environment; `undefined` after explaining a bad one. */
  readonly load: (argv: readonly string[]) => ServerConfig | undefined;
  /** Opens the engine without an OIDC provider. */
  readonly open: (config: ServerConfig) => Promise<Guestmode>;
  readonly reason: (error: unknown) => string;
}

export const OPERATOR_HELP = `  guestmode guests list [--after <id>] [flags]   guests by id, 50 at a time (no secrets)
  guestmode guests show <id> [flags]             one guest with its attributes
  guestmode guests delete <id> [flags]           delete an active guest and its attributes
  guestmode users export <sub> [flags]           a user's profile and merge records, as JSON
  guestmode users delete <sub> [flags]           erase a user's profile and merge records`;

const USAGE = 2;

/**
 * `guestmode guests list|show|delete` and `guestmode users export|delete`: the operator's view of
 * the data, for support and data-rights requests. Output is JSON lines or one JSON document;
 * guest secrets and their hashes are never read, so they cannot be printed.
 */
export async function operatorCommand(
  noun: 'guests' | 'users',
  argv: readonly string[],
  cli: OperatorCliContext,
): Promise<number> {
  const [verb, ...rest] = argv;
  const allowed = noun === 'guests' ? ['list', 'show', 'delete'] : ['export', 'delete'];
  if (verb === undefined || !allowed.includes(verb)) {
    cli.err(`guestmode: use guestmode ${noun} ${allowed.join('|')} (try guestmode --help)`);
    return USAGE;
  }
  // The subject comes first: a guest id may itself begin with "-".
  const subject = verb === 'list' ? undefined : rest[0];
  let after = '';
  const flags: string[] = [];
  for (let i = verb === 'list' ? 0 : 1; i < rest.length; i++) {
    if (verb === 'list' && rest[i] === '--after') after = rest[++i] ?? '';
    else flags.push(rest[i]!);
  }
  if (verb !== 'list' && !subject) {
    cli.err(
      `guestmode: ${noun} ${verb} needs ${noun === 'guests' ? 'a guest id' : "a user's sub"}`,
    );
    return USAGE;
  }
  return withOperatorEngine(cli, flags, `${noun} ${verb}`, (engine) =>
    run(engine, noun, verb, subject ?? '', after, cli),
  );
}

/**
 * Reads the settings from `flags`, opens the engine (no OIDC provider, no background work), runs
 * the command and closes the engine; failures become a line on stderr and an exit code.
 */
export async function withOperatorEngine(
  cli: OperatorCliContext,
  flags: readonly string[],
  what: string,
  command: (engine: Guestmode) => Promise<number>,
): Promise<number> {
  const config = cli.load(flags);
  if (!config) return USAGE;
  let engine: Guestmode;
  try {
    engine = await cli.open(config);
  } catch (error) {
    cli.err(`guestmode: cannot open the database (GUESTMODE_DATABASE_URL): ${cli.reason(error)}`);
    return 1;
  }
  try {
    return await command(engine);
  } catch (error) {
    cli.err(`guestmode: ${what} failed: ${cli.reason(error)}`);
    return 1;
  } finally {
    await engine.close();
  }
}

async function run(
  engine: Guestmode,
  noun: 'guests' | 'users',
  verb: string,
  subject: string,
  after: string,
  cli: OperatorCliContext,
): Promise<number> {
  if (noun === 'guests' && verb === 'list') {
    for (const guest of await engine.listGuests({ after })) cli.out(JSON.stringify(guest));
    return 0;
  }
  if (noun === 'guests' && verb === 'show') {
    const guest = await engine.inspectGuest(subject);
    if (!guest) {
      cli.err(`guestmode: no guest ${subject}`);
      return 1;
    }
    cli.out(JSON.stringify(guest, null, 2));
    return 0;
  }
  if (noun === 'guests') {
    if (await engine.deleteGuestById(subject)) {
      cli.out(`guestmode: deleted guest ${subject}`);
      return 0;
    }
    cli.err(`guestmode: no active guest ${subject} (a merged guest goes with its user)`);
    return 1;
  }
  if (verb === 'export') {
    cli.out(JSON.stringify(await engine.exportUser(subject), null, 2));
    return 0;
  }
  const { attributes, merges } = await engine.deleteUser(subject);
  cli.out(`guestmode: erased user ${subject}: ${attributes} attributes, ${merges} merge records`);
  return 0;
}
