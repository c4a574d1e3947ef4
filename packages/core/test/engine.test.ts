import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createGuestmode,
  type GuestStorage,
  looksLikeGuestCredential,
  parseCredential,
  parseDuration,
} from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';

describe('configuration is validated once, naming the option', () => {
  it('refuses bad options with a TypeError naming them', async () => {
    const storage: GuestStorage = await openSqliteStorage({ database: ':memory:' });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /options\.storage/],
      [{ storage, guestTtl: 'soon' }, /options\.guestTtl/],
      [{ storage, guestTtl: '10s' }, /options\.guestTtl/],
      [{ storage, limits: { maxValueBytes: -1 } }, /options\.limits\.maxValueBytes/],
      [{ storage, limits: { maxValueBytes: 10, maxProfileBytes: 5 } }, /maxProfileBytes/],
      [{ storage, mergeRules: { cart: 'sum' } }, /options\.mergeRules\["cart"\]/],
      [{ storage, mergeRules: { 'a b': 'user-wins' } }, /options\.mergeRules: "a b"/],
      [{ storage, defaultMergeRule: 'whatever' }, /options\.defaultMergeRule/],
      [{ storage, accessTokens: { issuer: 'x', audience: 'y' } }, /accessTokens\.issuer/],
      // A misspelt key would otherwise fall back to its default without a word.
      [{ storage, guestTTL: '1d' }, /^options\.guestTTL: unknown option/],
      [{ storage, limits: { maxValues: 1 } }, /^options\.limits\.maxValues: unknown option/],
      [
        { storage, accessTokens: { issuer: 'http://x.test', audience: 'y', typo: 1 } },
        /^options\.accessTokens\.typo: unknown option/,
      ],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => createGuestmode(options as never),
        (e: unknown) => e instanceof TypeError && message.test(e.message),
      );
    }
    await storage.close();
  });

  it('resolves exact rules before longer and shorter prefixes, then the default', async () => {
    const storage = await openSqliteStorage({ database: ':memory:' });
    const custom = () => ({ value: 1, outcome: 'kept-user' as const });
    const gm = createGuestmode({
      storage,
      mergeRules: { 'draft:*': 'transfer', 'draft:special*': custom, 'draft:x': 'guest-wins' },
      defaultMergeRule: 'newest-wins',
    });
    const names = ['draft:x', 'draft:special-1', 'draft:1', 'theme'];
    const { token } = await gm.createGuest(Object.fromEntries(names.map((n) => [n, 'guest'])));
    const user = { kind: 'user', id: 'rule-order' } as const;
    for (const name of names) await gm.setAttribute(user, name, 'user');
    const preview = await gm.previewMerge({ guestToken: token, userId: user.id });
    const ruleOf = Object.fromEntries(preview.changes.map((c) => [c.attribute, c.rule]));
    assert.deepEqual(ruleOf, {
      'draft:x': 'guest-wins',
      'draft:special-1': 'custom',
      'draft:1': 'transfer',
      theme: 'newest-wins',
    });
    await gm.close();
  });
});

describe('credentials and durations', () => {
  it('parses only well-formed guest credentials', () => {
    const good = `gm_${'A'.repeat(22)}.${'b'.repeat(43)}`;
    assert.deepEqual(parseCredential(good), { guestId: 'A'.repeat(22), secret: 'b'.repeat(43) });
    for (const bad of [
      '',
      good.slice(1),
      `${good}x`,
      good.replace('.', '_'),
      good.replace('A', '+'),
      `eyJ${good.slice(3)}`,
    ]) {
      assert.equal(parseCredential(bad), null, bad);
    }
  });

  it('tells guest credentials from JWTs by the prefix alone', () => {
    // About 1 in 4,000 random secrets contains "eyJ"; such a token is still a guest credential.
    const withEyJ = `gm_${'A'.repeat(22)}.eyJ${'b'.repeat(40)}`;
    assert.equal(looksLikeGuestCredential(withEyJ), true);
    assert.ok(parseCredential(withEyJ));
    assert.equal(looksLikeGuestCredential('eyJhbGciOiJFUzM4NCJ9.e30.sig'), false);
  });

  it('parses durations into milliseconds', () => {
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    assert.equal(parseDuration('12h'), 43_200_000);
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration(60), 60_000);
    for (const bad of ['', '0', '-1d', '1w', 'd', '1.5.2h', Number.NaN])
      assert.equal(parseDuration(bad), undefined);
  });
});
