/**
 * `@guestmode/server`: Guestmode as a language-neutral HTTP service (Fastify), and the
 * `guestmode` command-line program. See docs/server.md.
 *
 * @packageDocumentation
 */

export { type BuildServerOptions, buildServer } from './app.js';
export { type CliIo, main } from './cli.js';
export {
  type ConfigSource,
  type DatabaseConfig,
  loadConfig,
  type RateLimitConfig,
  SETTINGS,
  type ServerConfig,
} from './config.js';
export { openGuestmode, openStorage } from './engine.js';
export { Metrics, type StatsSample } from './metrics.js';
export { openApiDocument } from './openapi/document.js';
export { checkBuildServerOptions, checkServerConfig } from './options.js';
