import { parseArgs } from 'node:util';

/**
 * A mistake in how a program was called (unknown option, missing value, unknown command): the
 * CLI prints its message with a pointer to `--help` and exits with {@link EXIT_USAGE}.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit code of a successful run. */
export const EXIT_OK = 0;
/** Exit code of a runtime failure (database unreachable, port taken, purge failed). */
export const EXIT_FAILURE = 1;
/** Exit code of a bad setting or usage (as `sysexits`' EX_USAGE family: not a crash). */
export const EXIT_USAGE = 2;

/** The exit codes as `--help` prints them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  runtime failure (database or network unreachable, port in use, operation failed)
  2  usage error (unknown command or option, bad setting)`;

type FlagSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/**
 * Parses flags strictly. Node's own messages are long and mention positional arguments; this
 * names the offending flag only.
 */
export function parseFlags(
  argv: readonly string[],
  options: FlagSpec,
  allowPositionals = false,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) throw new UsageError(`unknown option ${unknown[1]}`);
    const missing = /Option '([^']+)' argument missing/.exec(message);
    if (missing) throw new UsageError(`option ${missing[1]!.split(' ')[0]} needs a value`);
    const positional = /Unexpected argument '([^']+)'/.exec(message);
    if (positional) throw new UsageError(`unexpected argument ${positional[1]}`);
    throw new UsageError(message.replace(/\.$/, ''));
  }
}

/** True when `--help` or `-h` appears before a `--` terminator. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
