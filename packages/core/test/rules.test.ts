import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtInRules, GuestmodeError, type MergeRuleInput } from '@guestmode/core';
import fc from 'fast-check';

type Line = { id: string; quantity: number };

function input(
  guest: unknown,
  user: unknown,
  times: { guest?: number; user?: number } = {},
): MergeRuleInput {
  return {
    name: 'x',
    guest: { value: guest, updatedAt: times.guest ?? 2 },
    user: user === undefined ? undefined : { value: user, updatedAt: times.user ?? 1 },
    guestId: 'g',
    userId: 'u',
    preview: false,
    transaction: { dialect: 'sqlite', handle: null },
  };
}

const lines = fc.array(
  fc.record(
    { id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), quantity: fc.integer({ min: 0, max: 1000 }) },
    // Values reach rules from JSON.parse, which never makes null-prototype objects.
    { noNullPrototype: true },
  ),
  { maxLength: 12 },
);
const total = (items: Line[]) => items.reduce((sum, l) => sum + l.quantity, 0);

describe('merge rules', () => {
  it('sum-by-key conserves total quantity and leaves one line per id', async () => {
    await fc.assert(
      fc.asyncProperty(lines, fc.option(lines, { nil: undefined }), async (guest, user) => {
        const { value } = await builtInRules['sum-by-key'](input(guest, user));
        const merged = value as Line[];
        assert.equal(total(merged), total(guest) + total(user ?? []));
        assert.equal(new Set(merged.map((l) => l.id)).size, merged.length);
        for (const line of merged) {
          const expected = total([...guest, ...(user ?? [])].filter((l) => l.id === line.id));
          assert.equal(line.quantity, expected);
        }
      }),
    );
  });

  it('sum-by-key keeps the user line fields and refuses malformed carts', async () => {
    const { value } = await builtInRules['sum-by-key'](
      input([{ id: 'a', quantity: 2, title: 'guest' }], [{ id: 'a', quantity: 1, title: 'user' }]),
    );
    assert.deepEqual(value, [{ id: 'a', quantity: 3, title: 'user' }]);
    for (const bad of [
      {},
      'x',
      [{ id: 'a' }],
      [{ quantity: 1 }],
      [{ id: 'a', quantity: '1' }],
      [{ id: 'a', quantity: Number.NaN }],
    ]) {
      assert.throws(
        () => builtInRules['sum-by-key'](input(bad, [])),
        (e: unknown) => e instanceof GuestmodeError && e.code === 'merge_rule_failed',
      );
    }
  });

  it('union-by-key keeps every id once; the newer side wins shared ids', async () => {
    await fc.assert(
      fc.asyncProperty(lines, lines, fc.boolean(), async (guestRaw, userRaw, guestNewer) => {
        const dedupe = (items: Line[]) => [...new Map(items.map((l) => [l.id, l])).values()];
        const guest = dedupe(guestRaw);
        const user = dedupe(userRaw);
        const times = guestNewer ? { guest: 2, user: 1 } : { guest: 1, user: 2 };
        const { value, conflicts = [] } = await builtInRules['union-by-key'](
          input(guest, user, times),
        );
        const merged = value as Line[];
        const ids = new Set([...guest, ...user].map((l) => l.id));
        assert.equal(merged.length, ids.size);
        for (const line of merged) {
          const g = guest.find((l) => l.id === line.id);
          const u = user.find((l) => l.id === line.id);
          const expected = g && u ? (guestNewer ? g : u) : (g ?? u);
          assert.deepEqual(line, expected);
        }
        const differing = guest.filter((g) =>
          user.some((u) => u.id === g.id && u.quantity !== g.quantity),
        );
        assert.equal(conflicts.length, differing.length);
      }),
    );
  });

  it('whole-value rules pick the right side and report a conflict only when values differ', async () => {
    assert.deepEqual((await builtInRules['guest-wins'](input('g', 'u'))).value, 'g');
    assert.deepEqual((await builtInRules['user-wins'](input('g', 'u'))).value, 'u');
    assert.deepEqual(
      (await builtInRules['newest-wins'](input('g', 'u', { guest: 5, user: 3 }))).value,
      'g',
    );
    assert.deepEqual(
      (await builtInRules['newest-wins'](input('g', 'u', { guest: 3, user: 5 }))).value,
      'u',
    );
    // A tie goes to the user: the account is the durable copy.
    assert.deepEqual(
      (await builtInRules['newest-wins'](input('g', 'u', { guest: 3, user: 3 }))).value,
      'u',
    );
    assert.deepEqual((await builtInRules['user-wins'](input({ a: 1 }, { a: 1 }))).conflicts, []);
    for (const rule of Object.values(builtInRules)) {
      const result = await rule(input([{ id: 'a', quantity: 1 }], undefined));
      assert.equal(result.outcome, 'copied', 'an attribute only the guest has is copied');
    }
  });

  it('transfer moves documents; shared documents keep the newer one', async () => {
    const guest = [
      { id: 'r1', text: 'guest draft' },
      { id: 'r2', text: 'only guest' },
    ];
    const user = [{ id: 'r1', text: 'user draft' }];
    const newerGuest = await builtInRules.transfer(input(guest, user, { guest: 9, user: 1 }));
    assert.deepEqual(newerGuest.value, [
      { id: 'r1', text: 'guest draft' },
      { id: 'r2', text: 'only guest' },
    ]);
    assert.deepEqual(newerGuest.conflicts, [
      { attribute: 'x', key: 'r1', kept: 'guest', discarded: { id: 'r1', text: 'user draft' } },
    ]);
    const single = await builtInRules.transfer(
      input({ text: 'g' }, { text: 'u' }, { guest: 1, user: 9 }),
    );
    assert.deepEqual(single.value, { text: 'u' });
  });
});
