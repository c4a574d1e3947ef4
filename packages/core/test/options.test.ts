import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ATTRIBUTE_NAME_PATTERN,
  builtInRules,
  checkDuration,
  checkGuestmodeOptions,
  checkInteger,
  checkObject,
  checkOneOf,
  checkPositiveInteger,
  checkString,
  checkUrl,
  GUEST_CREDENTIAL_PATTERN,
  type GuestStorage,
  INVALID_GUEST_CREDENTIAL_MESSAGE,
  invalidGuestCredential,
  isValidAttributeName,
  parseCredential,
} from '@guestmode/core';
import { generateCredential } from '../src/credential.js';

/** Asserts a `TypeError` whose message starts with `path: `. */
function refuses(fn: () => unknown, path: string, detail?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
    assert.ok(error.message.startsWith(`${path}: `), `"${error.message}" should name ${path}`);
    if (detail) assert.match(error.message, detail);
    return true;
  });
}

// Only `merge` is looked at: enough to tell a storage adapter from anything else.
const storage = { merge: () => undefined } as unknown as GuestStorage;

describe('option checks', () => {
  it('refuses unknown keys, naming their path and the keys that exist', () => {
    refuses(() => checkObject({ port: 1, prot: 2 }, 'options', ['port']), 'options.prot', /port/);
    refuses(() => checkObject({ 'a-b': 1 }, 'options.x', []), 'options.x["a-b"]');
    refuses(() => checkObject([], 'options', []), 'options', /object/);
    refuses(() => checkObject(null, 'options', []), 'options');
    assert.deepEqual(checkObject({ port: 1 }, 'options', ['port']), { port: 1 });
  });

  it('checks each primitive and never echoes the value', () => {
    refuses(() => checkString(42, 'options.name'), 'options.name');
    refuses(() => checkString('  ', 'options.name'), 'options.name', /empty/);
    refuses(() => checkString('abcd', 'options.name', { maxLength: 3 }), 'options.name');
    assert.equal(checkString('', 'options.name', { allowEmpty: true }), '');
    refuses(() => checkInteger(1.5, '--port', { min: 0, max: 9 }), '--port', /0 to 9/);
    refuses(() => checkInteger(10, '--port', { min: 0, max: 9 }), '--port');
    assert.equal(checkInteger(0, '--port', { min: 0, max: 9 }), 0);
    refuses(() => checkPositiveInteger(0, 'options.n'), 'options.n');
    refuses(() => checkPositiveInteger('3', 'options.n'), 'options.n');
    refuses(() => checkOneOf('loud', 'options.level', ['info', 'warn']), 'options.level', /info/);
    assert.equal(checkOneOf('warn', 'options.level', ['info', 'warn']), 'warn');
    refuses(
      () => checkDuration('10s', 'GUESTMODE_GUEST_TTL', { minMs: 60_000 }),
      'GUESTMODE_GUEST_TTL',
      /1m/,
    );
    refuses(() => checkDuration({}, 'options.ttl'), 'options.ttl');
    assert.equal(checkDuration('2h', 'options.ttl'), 7_200_000);
    refuses(() => checkUrl('ftp://x.example', 'options.issuer'), 'options.issuer', /http/);
    assert.throws(
      () => checkUrl('postgres://user:hunter2@db/x', 'options.url'),
      (error: unknown) => error instanceof TypeError && !error.message.includes('hunter2'),
    );
  });
});

describe('checkGuestmodeOptions', () => {
  it('refuses an unknown option with its path', () => {
    refuses(() => checkGuestmodeOptions({ storage, guestTTL: '1d' }), 'options.guestTTL');
    refuses(
      () => checkGuestmodeOptions({ storage, limits: { maxValuBytes: 1 } }),
      'options.limits.maxValuBytes',
    );
  });

  it('names every bad option', () => {
    refuses(() => checkGuestmodeOptions(undefined), 'options');
    refuses(() => checkGuestmodeOptions({}), 'options.storage');
    refuses(() => checkGuestmodeOptions({ storage, guestTtl: '10s' }), 'options.guestTtl');
    refuses(
      () => checkGuestmodeOptions({ storage, limits: { maxAttributes: 0 } }),
      'options.limits.maxAttributes',
    );
    refuses(
      () => checkGuestmodeOptions({ storage, limits: { maxValueBytes: 10, maxProfileBytes: 5 } }),
      'options.limits.maxValueBytes',
    );
    refuses(
      () => checkGuestmodeOptions({ storage, mergeRules: { cart: 'sum' } }),
      'options.mergeRules["cart"]',
    );
    refuses(
      () => checkGuestmodeOptions({ storage, mergeRules: { 'a b': 'user-wins' } }),
      'options.mergeRules',
      /"a b"/,
    );
    refuses(
      () => checkGuestmodeOptions({ storage, defaultMergeRule: 'x' }),
      'options.defaultMergeRule',
    );
    refuses(() => checkGuestmodeOptions({ storage, accessTokens: 'x' }), 'options.accessTokens');
    refuses(() => checkGuestmodeOptions({ storage, now: 5 }), 'options.now');
  });

  it('fills in the defaults and orders prefix rules longest first', () => {
    const custom = () => ({ value: 1, outcome: 'kept-user' as const });
    const checked = checkGuestmodeOptions({
      storage,
      guestTtl: '7d',
      limits: { maxAttributes: 10 },
      mergeRules: { cart: 'sum-by-key', 'draft:*': 'transfer', 'draft:x*': custom },
    });
    assert.equal(checked.ttlMs, 7 * 86_400_000);
    assert.deepEqual(checked.limits, {
      maxValueBytes: 64 * 1024,
      maxProfileBytes: 1024 * 1024,
      maxAttributes: 10,
    });
    assert.equal(checked.exactRules.get('cart'), builtInRules['sum-by-key']);
    assert.deepEqual(
      checked.prefixRules.map(([prefix]) => prefix),
      ['draft:x', 'draft:'],
    );
    assert.equal(checked.defaultRule, builtInRules['user-wins']);
    assert.equal(checked.now, Date.now);
  });
});

describe('shared constants', () => {
  it('the credential pattern accepts exactly what parseCredential accepts', () => {
    for (let i = 0; i < 200; i++) {
      const { token } = generateCredential();
      assert.match(token, GUEST_CREDENTIAL_PATTERN);
      assert.ok(parseCredential(token));
    }
    for (const bad of [
      'gm_short.x',
      `gm_${'a'.repeat(22)}.${'b'.repeat(42)}`,
      `xx_${'a'.repeat(22)}.${'b'.repeat(43)}`,
    ]) {
      assert.doesNotMatch(bad, GUEST_CREDENTIAL_PATTERN);
      assert.equal(parseCredential(bad), null);
    }
  });

  it('the attribute name pattern is what isValidAttributeName checks', () => {
    for (const name of [
      'cart',
      'draft:book-42',
      'a'.repeat(128),
      '',
      '-x',
      'a b',
      'a'.repeat(129),
    ]) {
      assert.equal(ATTRIBUTE_NAME_PATTERN.test(name), isValidAttributeName(name), name);
    }
  });

  it('one message for every refused guest credential', () => {
    const error = invalidGuestCredential();
    assert.equal(error.code, 'invalid_guest_credential');
    assert.equal(error.status, 401);
    assert.equal(error.message, INVALID_GUEST_CREDENTIAL_MESSAGE);
  });
});
