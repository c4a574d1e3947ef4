// A visitor who arrives while `npm start` is still starting gets an answer (503 with
// Retry-After), not a connection that hangs until the app is attached.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startDemo } from '../src/demo.js';

test('a request during start-up is answered 503 with Retry-After, then the Bookstore serves', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bookstore-startup-'));
  const early: { status: number; retryAfter: string | null }[] = [];
  try {
    const demo = await startDemo({
      dataDir,
      ports: 0,
      socialConnector: false,
      log: () => {},
      onListening: async (url) => {
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        early.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
      },
    });
    try {
      assert.deepEqual(early, [{ status: 503, retryAfter: '1' }]);
      const ready = await fetch(demo.url, { signal: AbortSignal.timeout(10_000) });
      await ready.arrayBuffer();
      assert.equal(ready.status, 200);
    } finally {
      await demo.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
