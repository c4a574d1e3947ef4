/**
 * `@guestmode/server`: Guestmode as a language-neutral HTTP service (Fastify), and the
 * `guestmode` command-line program. See docs/server.md.
 *
 * @packageDocumentation
 */

export { type BuildServerOptions, buildServer } from './app.js';
export {
  type CliIo,
  COMMANDS,
  type Command,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  main,
} from './cli.js';
export {
  type ConfigSource,
  type DatabaseConfig,
  loadConfig,
  type OidcConfig,
  type RateLimitConfig,
  SETTINGS,
  type ServerConfig,
} from './config.js';
export { openGuestmode, openStorage, verifierOptions } from './engine.js';
export { Metrics, type StatsSample } from './metrics.js';
export { openApiDocument } from './openapi/document.js';
export { checkBuildServerOptions, checkServerConfig } from './options.js';
export { type GuestmodePluginOptions, guestmodePlugin } from './plugin.js';
export { describeSettings, type Setting } from './settings.js';
export { UsageError } from './usage.js';
