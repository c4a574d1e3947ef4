// The local provider and the demo upstream are development tools. NODE_ENV is often unset in
// containers, so they refuse any non-loopback address unless the development switch is on.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GuestmodeError } from '@guestmode/core';
import { createIdp, startDevUpstream } from '../src/index.js';

const quiet = { database: ':memory:', port: 0, warn: () => {} } as const;

describe('development pieces stay on loopback unless told otherwise', () => {
  it('the provider refuses a public interface or a public endpoint without the switch', async () => {
    for (const options of [
      { host: '0.0.0.0', endpoint: 'http://127.0.0.1', env: {} },
      { host: '127.0.0.1', endpoint: 'https://idp.example.com', env: {} },
      // NODE_ENV unset is not a development switch.
      { host: '::', endpoint: 'http://localhost:3001', env: { NODE_ENV: '' } },
    ]) {
      const idp = createIdp({ ...quiet, ...options });
      try {
        await assert.rejects(idp.listen(), (error: unknown) => {
          assert.ok(error instanceof GuestmodeError);
          assert.equal(error.code, 'production_refused');
          assert.match(error.message, /GUESTMODE_DEV=1/);
          return true;
        });
      } finally {
        await idp.close();
      }
    }
  });

  it('starts with development: true or GUESTMODE_DEV=1, and on loopback without either', async () => {
    for (const options of [
      { endpoint: 'https://idp.example.com', development: true, env: {} },
      { endpoint: 'https://idp.example.com', env: { GUESTMODE_DEV: '1' } },
      { endpoint: 'http://localhost:3001', env: {} },
    ]) {
      const idp = createIdp({ ...quiet, host: '127.0.0.1', ...options });
      try {
        const { url } = await idp.listen();
        assert.ok(url);
      } finally {
        await idp.close();
      }
    }
  });

  it('the demo upstream refuses a public interface without the switch', async () => {
    await assert.rejects(startDevUpstream({ host: '0.0.0.0', port: 0, log: () => {} }), (error) => {
      assert.ok(error instanceof GuestmodeError);
      assert.equal(error.code, 'production_refused');
      assert.match(error.message, /GUESTMODE_DEV=1/);
      return true;
    });
    const upstream = await startDevUpstream({ port: 0, log: () => {} });
    await upstream.close();
  });
});
