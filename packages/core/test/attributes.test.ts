import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createGuestmode, GuestmodeError, RawJson } from '@guestmode/core';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import fc from 'fast-check';
import { checkEncodedValue, encodeAttributeValue } from '../src/attributes.js';

const LIMIT = 64 * 1024;

function refused(run: () => unknown, message: RegExp) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof GuestmodeError, String(error));
    assert.equal(error.code, 'invalid_attribute_value');
    assert.match(error.message, message);
    return true;
  });
}

describe('attribute values are stored as they will be merged', () => {
  it('refuses JSON text that a parse and re-serialisation would change, naming the path', () => {
    const cases: Array<[string, RegExp]> = [
      ['1e999', /too large .* at \$\.$/],
      ['-1e999', /too large .* at \$\.$/],
      ['{"a":{"b":[1,1e400]}}', /too large .* at \$\.a\.b\[1\]\.$/],
      ['{"a":1,"a":2}', /the key "a" twice at \$\.$/],
      ['{"x":[0,{"b":1,"c":2,"b":3}]}', /the key "b" twice at \$\.x\[1\]\.$/],
      ['{"a":1,"\\u0061":2}', /the key "a" twice/],
      ['{"a b":{"k":1,"k":1}}', /the key "k" twice at \$\["a b"\]\.$/],
      ['123456789012345678901234567890', /integer beyond 2\^53 - 1 .* at \$\.$/],
      ['[9007199254740993]', /integer beyond .* at \$\[0\]\.$/],
      ['{"n":-9007199254740993}', /integer beyond .* at \$\.n\.$/],
      ['-0', /negative zero at \$\.$/],
      ['[1,-0.0]', /negative zero at \$\[1\]\.$/],
      ['{"z":-0e5}', /negative zero at \$\.z\.$/],
      ['1e-400', /too small .* at \$\.$/],
    ];
    for (const [json, message] of cases) {
      refused(() => checkEncodedValue('v', json, LIMIT), message);
      // Each of these really is changed by the merge's parse and re-serialisation.
      assert.notEqual(JSON.stringify(JSON.parse(json)), json.replaceAll('\\u0061', 'a'), json);
    }
  });

  it('keeps everything that survives unchanged, byte for byte', () => {
    const kept = [
      '0',
      '0.0',
      '-1',
      '9007199254740991',
      '-9007199254740991',
      '1.5e300',
      '1e21',
      '0e10',
      '"-0"',
      '"\\u0000 \\" \\\\ \\/ \\b\\f\\n\\r\\t \\ud83d\\ude00"',
      '{"a":1,"b":{"a":2}}',
      '[{"a":1},{"a":1}]',
      '{"a":{"x":1},"b":{"x":1,"y":2}}',
      ' [ true , false , null ] ',
      '{}',
      '[]',
      '"x"',
    ];
    for (const json of kept) assert.equal(checkEncodedValue('v', json, LIMIT), json);
  });

  it('refuses JSON text that is not JSON (library callers pass text directly)', () => {
    for (const json of [
      '',
      '{',
      '[1,]',
      '{"a" 1}',
      '{"a":1,}',
      'tru',
      '01',
      '1.',
      '-',
      '.5',
      '"\\x"',
      '"\\u12"',
      '"a\nb"',
      '"open',
      '[1] 2',
      '{1:2}',
      'NaN',
      'Infinity',
    ]) {
      refused(() => checkEncodedValue('v', json, LIMIT), /is not valid JSON/);
    }
  });

  it('keeps the depth limit: 64 levels pass, 65 do not', () => {
    assert.ok(checkEncodedValue('v', `${'['.repeat(64)}${']'.repeat(64)}`, LIMIT));
    refused(
      () => checkEncodedValue('v', `${'['.repeat(65)}${']'.repeat(65)}`, LIMIT),
      /deeper than 64 levels/,
    );
  });

  it('refuses the same numbers in JS values, which JSON.stringify would change silently', () => {
    refused(
      () => encodeAttributeValue('v', { a: [1, Number.NaN] }, LIMIT),
      /non-finite .* \$\.a\[1\]/,
    );
    refused(() => encodeAttributeValue('v', Infinity, LIMIT), /non-finite number at \$\./);
    refused(
      () => encodeAttributeValue('v', { 'x y': { z: -0 } }, LIMIT),
      /negative zero at \$\["x y"\]\.z/,
    );
    refused(() => encodeAttributeValue('v', { big: 2 ** 60 }, LIMIT), /integer beyond .* \$\.big/);
    assert.equal(encodeAttributeValue('v', { a: [1, 0, -1.5] }, LIMIT), '{"a":[1,0,-1.5]}');
  });

  it('agrees with JSON.parse: whatever the scanner accepts parses, and survives a round trip', () => {
    const accepts = (json: string) => {
      try {
        checkEncodedValue('v', json, LIMIT);
        return true;
      } catch (error) {
        if (error instanceof GuestmodeError && error.code === 'invalid_attribute_value') {
          return false;
        }
        throw error;
      }
    };
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), fc.nat(), fc.string(), (json, at, noise) => {
        // Valid JSON: accepted exactly when its round trip is lossless.
        if (accepts(json))
          assert.deepEqual(JSON.parse(JSON.stringify(JSON.parse(json))), JSON.parse(json));
        // Mutated text: anything the scanner accepts is valid JSON.
        const cut = at % (json.length + 1);
        const mutated = json.slice(0, cut) + noise + json.slice(cut + 1);
        if (accepts(mutated)) JSON.parse(mutated);
      }),
      { numRuns: 500 },
    );
  });

  it('the engine refuses them with 400 invalid_attribute_value and writes nothing', async () => {
    const storage = await openSqliteStorage({ database: ':memory:' });
    const gm = createGuestmode({ storage });
    try {
      const { token } = await gm.createGuest({ kept: 1 });
      await assert.rejects(
        gm.setGuestAttribute(token, 'cart', RawJson.parse('{"a":1,"a":2}')),
        (e) => {
          assert.ok(e instanceof GuestmodeError);
          assert.equal(e.code, 'invalid_attribute_value');
          return true;
        },
      );
      await assert.rejects(gm.setGuestAttribute(token, 'cart', { q: Number.POSITIVE_INFINITY }), {
        code: 'invalid_attribute_value',
      });
      await assert.rejects(gm.createGuest({ n: RawJson.parse('12345678901234567890') }), {
        code: 'invalid_attribute_value',
      });
      const session = await gm.authenticateGuest(token);
      assert.deepEqual(
        session.attributes.map((a) => a.name),
        ['kept'],
      );
    } finally {
      await gm.close();
    }
  });
});
