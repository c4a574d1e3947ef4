// The webhook settings of `guestmode serve`: one endpoint from two variables, several from a file,
// every mistake named by its setting, and no secret ever in a message.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'gm-webhook-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const secret = `whsec_${Buffer.from('a secret of 24 bytes!!!!').toString('base64')}`;
const other = `whsec_${Buffer.from('another secret, 24 bytes').toString('base64')}`;

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

test('no endpoint, no events; one endpoint from the URL and its secrets', () => {
  assert.equal(loadConfig({ env: {} }).events, undefined);
  const events = loadConfig({
    env: {
      GUESTMODE_WEBHOOK_URL: 'https://hooks.example.com/gm',
      GUESTMODE_WEBHOOK_SECRET: `${secret},${other}`,
      GUESTMODE_WEBHOOK_RETRY_DELAY: '2s',
      GUESTMODE_WEBHOOK_GIVE_UP: '1d',
    },
  }).events;
  assert.deepEqual(events?.webhooks, [
    { url: 'https://hooks.example.com/gm', secret: [secret, other] },
  ]);
  assert.equal(events?.allowPrivateNetworks, false);
  assert.equal(events?.delivery?.retryBaseMs, 2000);
  assert.equal(events?.delivery?.giveUpAfter, `${86_400_000}ms`);
});

test('endpoints from a file, with filters and the opt-in types', () => {
  const path = file('hooks.json', {
    include: ['guest.created'],
    webhooks: [{ url: 'https://a.example.com/h', secret, events: ['guest.created'], id: 'a' }],
  });
  const events = loadConfig({ env: { GUESTMODE_WEBHOOKS_FILE: path } }).events;
  assert.deepEqual(events?.include, ['guest.created']);
  assert.equal(events?.webhooks?.[0]?.id, 'a');
  const array = file('array.json', [{ url: 'https://b.example.com/h', secret }]);
  assert.equal(loadConfig({ env: { GUESTMODE_WEBHOOKS_FILE: array } }).events?.webhooks?.length, 1);
});

test('mistakes name their setting and never echo a secret', () => {
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ GUESTMODE_WEBHOOK_URL: 'https://h.example.com' }, /^GUESTMODE_WEBHOOK_SECRET: is required/],
    [{ GUESTMODE_WEBHOOK_SECRET: secret }, /^GUESTMODE_WEBHOOK_URL: is required/],
    [
      { GUESTMODE_WEBHOOK_URL: 'https://h.example.com', GUESTMODE_WEBHOOK_SECRET: 'whsec_short' },
      /^GUESTMODE_WEBHOOK_SECRET: must be whsec_/,
    ],
    [
      { GUESTMODE_WEBHOOK_URL: 'ftp://h.example.com', GUESTMODE_WEBHOOK_SECRET: secret },
      /^GUESTMODE_WEBHOOK_URL: /,
    ],
    [{ GUESTMODE_WEBHOOKS_FILE: join(dir, 'missing.json') }, /no such file/],
    [{ GUESTMODE_WEBHOOKS_FILE: file('bad.json', '{') }, /is not valid JSON/],
    [{ GUESTMODE_WEBHOOKS_FILE: file('key.json', { hooks: [] }) }, /hooks: unknown option/],
    [
      {
        GUESTMODE_WEBHOOKS_FILE: file('entry.json', [
          { url: 'https://c.example.com', secret: 'not-a-secret-at-all' },
        ]),
      },
      /^GUESTMODE_WEBHOOKS_FILE\.webhooks\[0\]\.secret: /,
    ],
    [
      {
        GUESTMODE_WEBHOOKS_FILE: file('filter.json', [
          { url: 'https://c.example.com', secret, events: ['guest.created'] },
        ]),
      },
      /webhooks\[0\]\.events\[0\]: guest\.created is off/,
    ],
    [
      {
        GUESTMODE_WEBHOOK_URL: 'https://h.example.com',
        GUESTMODE_WEBHOOK_SECRET: secret,
        GUESTMODE_WEBHOOK_PRIVATE_NETWORKS: 'maybe',
      },
      /^GUESTMODE_WEBHOOK_PRIVATE_NETWORKS: /,
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig({ env }),
      (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, message);
        assert.ok(!error.message.includes('not-a-secret') && !error.message.includes(secret));
        assert.ok(!error.message.includes('whsec_short'));
        return true;
      },
    );
  }
});
