import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOptionError } from '@guestmode/core';
import { buildServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { checkServerConfig } from '../src/options.js';

/** A `TypeError` that names `path` first, as the CLI prints it. */
const naming = (path: string) => (error: unknown) => {
  assert.ok(isOptionError(error), `expected a TypeError from an option check, got ${error}`);
  assert.equal(error.option, path);
  assert.ok(error.message.startsWith(`${path}: `), error.message);
  return true;
};

describe('server options', () => {
  it('buildServer refuses an unknown option or config key with its path, before opening anything', async () => {
    await assert.rejects(buildServer({ confg: {} } as never), naming('options.confg'));
    await assert.rejects(
      buildServer({ config: { prot: 4000 } } as never),
      naming('options.config.prot'),
    );
    await assert.rejects(
      buildServer({ config: { rateLimit: { max: 5, window: 1000 } } } as never),
      naming('options.config.rateLimit.window'),
    );
  });

  it('buildServer refuses a config value of the wrong type or range', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ port: '4000' }, 'options.config.port'],
      [{ port: 70_000 }, 'options.config.port'],
      [{ bodyLimit: 10 }, 'options.config.bodyLimit'],
      [{ guestTtlMs: 1000 }, 'options.config.guestTtlMs'],
      [{ logLevel: 'loud' }, 'options.config.logLevel'],
      [{ dashboard: 'on' }, 'options.config.dashboard'],
      [{ mergeRules: { cart: 'sum' } }, 'options.config.mergeRules.cart'],
      [{ database: { kind: 'mysql' } }, 'options.config.database'],
      [
        { database: { kind: 'postgres', url: 'mysql://u:hunter2@db/x' } },
        'options.config.database.url',
      ],
      [{ oidc: { issuer: 'not a url', audience: 'x' } }, 'options.config.oidc.issuer'],
    ];
    for (const [config, path] of cases) {
      assert.throws(() => checkServerConfig(config, 'options.config'), naming(path), path);
    }
    assert.throws(
      () =>
        checkServerConfig({ database: { kind: 'postgres', url: 'mysql://u:hunter2@db/x' } }, 'c'),
      (error: unknown) => error instanceof TypeError && !error.message.includes('hunter2'),
    );
    await assert.rejects(buildServer({ statsCacheMs: -1 }), naming('options.statsCacheMs'));
  });

  it('accepts every setting loadConfig produces', () => {
    const config = loadConfig({ env: {}, argv: [] });
    assert.deepEqual(checkServerConfig(config, 'options.config'), config);
  });

  it('loadConfig names the environment variable or the flag', () => {
    assert.throws(() => loadConfig({ env: { PORT: 'abc' }, argv: [] }), naming('PORT'));
    assert.throws(() => loadConfig({ env: {}, argv: ['--port', 'x'] }), naming('--port'));
    assert.throws(
      () => loadConfig({ env: { GUESTMODE_LOG_LEVEL: 'loud' }, argv: [] }),
      naming('GUESTMODE_LOG_LEVEL'),
    );
    // An unknown flag is a usage error, not a bad value: the CLI points to --help for it.
    assert.throws(() => loadConfig({ env: {}, argv: ['--prot', '1'] }), {
      name: 'UsageError',
      message: 'unknown option --prot',
    });
  });
});
