// Guestmode's scenarios on one database (SQLite or PostgreSQL): the lazy create, the read and the
// write of a profile, and the merge into a signed-in user, against `guestmode serve` from the
// release build.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestIssuer } from '@guestmode/testkit';
import type { BenchContext } from '../context.js';
import { type BenchDb, type Dialect, rowsDelta, withBenchDb } from '../db.js';
import { cartOf, createGuests, getJson, postJson, signTokens, TYPICAL_CART } from '../fixtures.js';
import type { Env } from '../proc.js';
import type { Release } from '../release.js';
import { defineScenario, runScenarios, type Scenario, signed } from '../scenario.js';
import { AUDIENCE, CONNECTIONS, MERGE_RULES } from '../settings.js';
import type { ScenarioResult } from '../types.js';

/** What a Guestmode server needs besides its database: the build it runs and the issuer. */
export interface GuestmodeStack {
  readonly release: Release;
  readonly issuer: TestIssuer;
}

export type GuestmodeScenarioName = 'create' | 'read' | 'write' | 'merge';

const CART = '/v1/profile/attributes/cart';

/**
 * `guestmode serve`'s environment: logger and rate limit off (the load comes from one address),
 * cart merge rules, every other setting at its default unless `extra` sets it.
 */
export function guestmodeEnv(
  ctx: BenchContext,
  issuer: string,
  databaseUrl: string,
  extra: Env = {},
): Env {
  const rules = join(ctx.work, 'rules.json');
  writeFileSync(rules, JSON.stringify(MERGE_RULES));
  return {
    PATH: process.env.PATH,
    HOST: '127.0.0.1',
    GUESTMODE_DATABASE_URL: databaseUrl,
    GUESTMODE_OIDC_ISSUER: issuer,
    GUESTMODE_OIDC_AUDIENCE: AUDIENCE,
    GUESTMODE_MERGE_RULES: rules,
    GUESTMODE_RATE_LIMIT: 'off',
    GUESTMODE_LOG_LEVEL: 'silent',
    ...extra,
  };
}

/** The four scenarios against the server at `url`, counting rows through `bench`. */
export function guestmodeScenarios(
  ctx: BenchContext,
  stack: GuestmodeStack,
  db: Dialect,
  url: string,
  bench: BenchDb,
): Scenario[] {
  const { settings } = ctx;
  const count = () => bench.guestmodeRows();

  // The guests that read and write, made through HTTP with a typical cart when first needed.
  let readers: Promise<string[]> | undefined;
  const guestsWithCarts = () => {
    readers ??= (async () => {
      const tokens = await createGuests(url, settings.readPool, `{"cart":${TYPICAL_CART}}`);
      const profile = (await getJson(`${url}/v1/profile`, {
        authorization: `Bearer ${tokens[0]}`,
      })) as { attributes: { cart?: unknown[] } };
      if (profile.attributes.cart?.length !== 3) throw new Error('bench: a guest lost its cart');
      return tokens;
    })();
    return readers;
  };
  const bearer = (tokens: readonly string[]) =>
    tokens.map((t) => ({ authorization: `Bearer ${t}` }));

  return [
    defineScenario({
      name: 'create',
      request: 'PUT /v1/profile/attributes/cart, no credential (lazy guest)',
      baseline: 'settled',
      prepare: async () => ({
        load: { url, method: 'PUT', path: CART, body: TYPICAL_CART },
        state: undefined,
      }),
      count,
      check: ({ load, before, after }) => {
        const d = rowsDelta(before, after);
        return {
          passed: d.guests === load.ok && d.attributes === load.ok,
          detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)} for ${load.ok} × 2xx`,
        };
      },
    }),
    defineScenario({
      name: 'read',
      request: 'GET /v1/profile, Bearer guest token',
      baseline: 'before-warm-up',
      prepare: async () => ({
        load: { url, method: 'GET', path: '/v1/profile', rotate: bearer(await guestsWithCarts()) },
        state: undefined,
      }),
      count,
      check: ({ load, before, after }) => {
        const d = rowsDelta(before, after);
        const bytes = load.requests > 0 ? load.bytes / load.requests : 0;
        return {
          passed: d.guests === 0 && d.attributes === 0 && bytes > 200,
          detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)}; ${Math.round(bytes)} B per answer (profile with cart)`,
        };
      },
    }),
    defineScenario({
      name: 'write',
      request: 'PUT /v1/profile/attributes/cart, Bearer guest token',
      baseline: 'settled',
      prepare: async () => {
        const tokens = await guestsWithCarts();
        return {
          load: { url, method: 'PUT', path: CART, body: TYPICAL_CART, rotate: bearer(tokens) },
          state: tokens.length,
        };
      },
      count,
      check: async ({ load, before, after, state: guests, since }) => {
        const d = rowsDelta(before, after);
        const touched = await bench.attributesUpdatedSince(since);
        // Requests go to the guests in turn; the last request built per connection is not sent.
        const low = Math.min(guests, load.ok) - CONNECTIONS;
        const high = Math.min(guests, load.ok + CONNECTIONS);
        return {
          passed: d.guests === 0 && d.attributes === 0 && touched >= low && touched <= high,
          detail: `guests ${signed(d.guests)}, attributes ${signed(d.attributes)}; ${touched} carts rewritten (${guests} guests in turn, ${load.ok} × 2xx)`,
        };
      },
    }),
    defineScenario({
      name: 'merge',
      request: 'POST /v1/merge, ES384 access token + Guest-Token, 10 + 10 lines',
      prepare: async () => {
        // Guests with a 10-line cart (through HTTP), users with a 10-line cart sharing 5 ids
        // (inserted directly), and one access token per user: every merge is a first merge.
        const pairs = settings.mergePool;
        const guests = await createGuests(url, pairs, `{"cart":${cartOf(10)}}`);
        const userIds = guests.map((_, i) => `bench-user-${db}-${i}`);
        await bench.insertUserCarts(userIds, () => cartOf(10, 5));
        const accessTokens = await signTokens(stack.issuer, userIds);
        const sets = guests.map((g, i) => ({
          authorization: `Bearer ${accessTokens[i]}`,
          'guest-token': g,
        }));
        const first = (await postJson(`${url}/v1/merge`, sets[0]!)) as {
          attributes: { cart: unknown[] };
        };
        if (first.attributes.cart.length !== 15) {
          throw new Error(`bench: merge gave ${first.attributes.cart.length} lines, not 15`);
        }
        // Each connection builds one request more than it sends, so each slice has spare sets.
        const warmAmount = Math.max(CONNECTIONS * 2, Math.floor(pairs / 8));
        const warmSets = sets.slice(1, 1 + warmAmount + CONNECTIONS);
        const measured = sets.slice(1 + warmSets.length);
        return {
          load: { url, method: 'POST', path: '/v1/merge', rotate: measured },
          warmUp: { rotate: warmSets, amount: warmAmount },
          maxAmount: measured.length - CONNECTIONS,
          state: undefined,
        };
      },
      count,
      check: ({ load, before, after }) => {
        const d = rowsDelta(before, after);
        return {
          passed:
            d.merged === load.ok &&
            d.guestAttributes === -load.ok &&
            d.userAttributes === 0 &&
            d.guests === 0,
          detail: `guests merged ${signed(d.merged)}, guest carts ${signed(d.guestAttributes)}, user carts ${signed(d.userAttributes)} for ${load.ok} × 2xx`,
        };
      },
    }),
  ];
}

/**
 * Starts `guestmode serve` on `databaseUrl` and runs the scenarios (those named in `only`, if
 * given), with `nodeArgs` for the server's `node` (`--cpu-prof` for the profile).
 */
export async function runGuestmodeSuite(
  ctx: BenchContext,
  stack: GuestmodeStack,
  db: Dialect,
  databaseUrl: string,
  options: { only?: readonly GuestmodeScenarioName[]; nodeArgs?: readonly string[] } = {},
): Promise<ScenarioResult[]> {
  // On SQLite the bench's connection opens the file first; the server creates the tables.
  return withBenchDb(databaseUrl, async (bench) => {
    const server = await ctx.serve(
      [...(options.nodeArgs ?? []), stack.release.cli, 'serve'],
      guestmodeEnv(ctx, stack.issuer.issuer, databaseUrl),
      '/healthz',
    );
    try {
      const only = options.only as readonly string[] | undefined;
      const scenarios = guestmodeScenarios(ctx, stack, db, server.url, bench).filter(
        (s) => only === undefined || only.includes(s.name),
      );
      return await runScenarios(ctx, { system: 'guestmode', db }, scenarios);
    } finally {
      await ctx.stop(server);
    }
  });
}
