// The OpenAPI document against core's one code-to-status map: every code it names exists, every
// documented error status is the map's status of the codes listed under it, and every code the
// service's source can throw is documented under its status somewhere.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, ERROR_STATUS } from '@guestmode/core';
import { fromFastifyError } from '../src/errors.js';
import { openApiDocument } from '../src/openapi/document.js';
import { documentedCodes } from './harness.js';

type Responses = Record<string, { description?: string; headers?: Record<string, unknown> }>;
interface Doc {
  paths: Record<string, Record<string, { responses?: Responses }>>;
  components: {
    schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } };
  };
}

const doc = openApiDocument() as unknown as Doc;
const status = (code: string) => ERROR_STATUS[code as keyof typeof ERROR_STATUS];

function* operations(): Generator<[string, Responses]> {
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation.responses) yield [`${method.toUpperCase()} ${path}`, operation.responses];
    }
  }
}

/** `new GuestmodeError('code'` and `invalidGuestCredential()` in the .ts files under `dir`. */
function thrownCodes(dir: string, skip: readonly string[] = []): Set<string> {
  const codes = new Set<string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    if (skip.some((part) => file.includes(part))) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/new GuestmodeError\(\s*'([a-z_]+)'/g)) codes.add(match[1]!);
    if (/invalidGuestCredential\(\)/.test(text)) codes.add('invalid_guest_credential');
  }
  return codes;
}

const src = (pkg: string) => fileURLToPath(new URL(`../../${pkg}/src`, import.meta.url));

describe('/openapi.json and ERROR_STATUS', () => {
  it('the error code enum is the map, in its order', () => {
    const codes = doc.components.schemas.Error.properties.error.properties.code.enum;
    assert.deepEqual(codes, [...ERROR_CODES]);
    assert.deepEqual(codes, Object.keys(ERROR_STATUS));
  });

  it('each documented error status is the status of every code listed under it', () => {
    let checked = 0;
    for (const [operation, responses] of operations()) {
      for (const [key, response] of Object.entries(responses)) {
        if (key === 'default' || Number(key) < 400) continue;
        const codes = documentedCodes(response);
        assert.ok(codes.length > 0, `${operation} ${key} names no code`);
        for (const code of codes) {
          assert.ok(
            Object.hasOwn(ERROR_STATUS, code),
            `${operation} ${key}: ${code} is not a code`,
          );
          assert.equal(status(code), Number(key), `${operation} ${key}: ${code}`);
          checked++;
        }
        if (key === '429' || key === '503') {
          assert.ok(response.headers?.['Retry-After'], `${operation} ${key} has Retry-After`);
        }
      }
      for (const code of documentedCodes(responses.default)) {
        assert.ok(Object.hasOwn(ERROR_STATUS, code), `${operation} default: ${code}`);
      }
    }
    assert.ok(checked > 50, `${checked} codes checked`);
  });

  it('every operation that reads the database documents 503 storage_unavailable', () => {
    for (const [operation, responses] of operations()) {
      if (operation === 'GET /openapi.json' || operation === 'GET /') continue;
      assert.ok(documentedCodes(responses['503']).includes('storage_unavailable'), operation);
    }
  });

  it('every code the service and the engine throw is documented under its status', () => {
    const documented = new Map<string, Set<string>>();
    for (const [, responses] of operations()) {
      for (const [key, response] of Object.entries(responses)) {
        for (const code of documentedCodes(response)) {
          documented.set(code, (documented.get(code) ?? new Set()).add(key));
        }
      }
    }
    // The web adapters' own flow (`core/src/web`) never runs in the service.
    const thrown = new Set([...thrownCodes(src('server')), ...thrownCodes(src('core'), ['/web/'])]);
    // And what Fastify's own refusals turn into.
    for (const fastify of [
      { validation: [], message: 'x' },
      { code: 'FST_ERR_CTP_BODY_TOO_LARGE' },
      { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
      { code: 'FST_ERR_MAX_PARAM_LENGTH' },
      { statusCode: 404, message: 'x' },
      { statusCode: 400, message: 'x' },
    ]) {
      thrown.add((fromFastifyError(fastify) as { code: string }).code);
    }
    assert.ok(thrown.size >= 15, `found ${[...thrown].join(', ')}`);
    for (const code of thrown) {
      assert.ok(Object.hasOwn(ERROR_STATUS, code), `${code} is not in ERROR_STATUS`);
      const keys = documented.get(code);
      // `not_found` is the answer to a route the document does not have.
      if (code === 'not_found') continue;
      assert.ok(keys, `${code} is thrown but documented nowhere`);
      assert.ok(
        keys.has(String(status(code))),
        `${code} is documented, but not under ${status(code)}`,
      );
    }
  });

  it('Fastify refusals keep their statuses through the map', () => {
    const cases: [object, string, number][] = [
      [{ validation: [{}], message: 'body/x must be string' }, 'invalid_request', 400],
      [{ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }, 'payload_too_large', 413],
      [{ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }, 'unsupported_media_type', 415],
      [{ code: 'FST_ERR_MAX_PARAM_LENGTH' }, 'invalid_request', 400],
      [{ statusCode: 404, message: 'no' }, 'not_found', 404],
      [{ statusCode: 431, message: 'headers' }, 'invalid_request', 400],
    ];
    for (const [input, code, expected] of cases) {
      const error = fromFastifyError(input) as { code: string; status: number };
      assert.equal(error.code, code);
      assert.equal(error.status, expected);
    }
    const bug = new Error('SELECT secret FROM x');
    assert.equal(fromFastifyError(bug), bug, 'anything else is left for internal_error');
  });
});
