/** Where a package's bin/ finds its program, and what the program is called. */
export interface LaunchCliOptions {
  /** The package's root folder (`new URL('..', import.meta.url)` from its bin/ file). */
  readonly packageRoot: URL;
  /** The program's name, for messages. */
  readonly program: string;
  /** The export of dist/cli.js that takes the arguments and resolves to the exit code. */
  readonly entry: string;
}

/**
 * Runs `dist/cli.js` under `packageRoot`, or `src/cli.ts` through tsx where dist/ is missing
 * (a repository checkout that has not been built). Sets `process.exitCode` to the program's.
 */
export function launchCli(options: LaunchCliOptions): Promise<void>;
