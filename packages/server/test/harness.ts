// Shared fixtures of the server tests: a real HTTP server on 127.0.0.1:0 over SQLite or
// PostgreSQL, a test OIDC issuer, and a client that checks every JSON body against the
// service's own /openapi.json.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGuestmode, ERROR_STATUS, type Guestmode, type GuestStorage } from '@guestmode/core';
import { openPostgresStorage } from '@guestmode/core/postgres';
import { openSqliteStorage } from '@guestmode/core/sqlite';
import { createTestDatabase, startTestIssuer, type TestIssuer } from '@guestmode/testkit';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { type BuildServerOptions, buildServer } from '../src/app.js';
import type { ServerConfig } from '../src/config.js';

export type StorageKind = 'sqlite' | 'postgres';

/** The admin token every test service is started with (opens /, /v1/stats and /metrics). */
export const ADMIN_TOKEN = 'test-admin-token-0123456789';
/** The headers that present {@link ADMIN_TOKEN}. */
export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Opens a fresh, empty store; `cleanup` removes it. */
export async function openTestStorage(
  kind: StorageKind,
): Promise<{ storage: GuestStorage; cleanup: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gm-server-'));
    const storage = await openSqliteStorage({ database: join(dir, 'guestmode.db') });
    return {
      storage,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const db = await createTestDatabase();
  const storage = await openPostgresStorage({ database: db.url });
  return { storage, cleanup: () => db.drop() };
}

export interface Response<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface RequestOptions {
  params?: Record<string, string>;
  headers?: Record<string, string>;
  /** A value to send as JSON, or `raw` text with its own content type. */
  json?: unknown;
  raw?: string;
}

interface OpenApiPaths {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

/** The codes a response's description names: every one is written as `code`. */
export function documentedCodes(response: unknown): string[] {
  const description = (response as { description?: string } | undefined)?.description ?? '';
  return [...description.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]!);
}

/** Validates response bodies against the schemas of the service's OpenAPI document. */
export class OpenApiChecker {
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly #doc: OpenApiPaths;
  /** `METHOD template status` of every checked response, so a test can prove coverage. */
  readonly seen = new Set<string>();

  constructor(doc: Record<string, unknown>) {
    this.#doc = doc as unknown as OpenApiPaths;
    this.#ajv.addFormat(
      'date-time',
      (s: string) => /^\d{4}-\d\d-\d\dT/.test(s) && !Number.isNaN(Date.parse(s)),
    );
    this.#ajv.addSchema({ ...doc, $id: 'openapi' });
  }

  /**
   * An error answer must carry a code whose status in core's map is the status sent, and when
   * the operation documents that status, the description must name the code: so every refusal a
   * test provokes proves that the document tells clients about it.
   */
  #checkErrorCode(
    method: string,
    template: string,
    responses: Record<string, unknown>,
    response: Response,
  ): void {
    if (response.status < 400) return;
    const code = (response.body as { error?: { code?: string } } | undefined)?.error?.code;
    if (code === undefined) return;
    const where = `${method} ${template} ${response.status} ${code}`;
    assert.ok(Object.hasOwn(ERROR_STATUS, code), `${where}: the code is not in ERROR_STATUS`);
    assert.equal(
      ERROR_STATUS[code as keyof typeof ERROR_STATUS],
      response.status,
      `${where}: ERROR_STATUS gives this code another status`,
    );
    const documented = responses[String(response.status)];
    if (documented !== undefined) {
      assert.ok(
        documentedCodes(documented).includes(code),
        `${where}: /openapi.json documents ${response.status} without this code`,
      );
    }
  }

  check(method: string, template: string, response: Response): void {
    const operation = this.#doc.paths[template]?.[method.toLowerCase()];
    assert.ok(operation, `${method} ${template} is not in /openapi.json`);
    const status = String(response.status);
    const documented = (operation.responses[status] ?? operation.responses.default) as
      | { content?: Record<string, { schema: unknown }> }
      | undefined;
    assert.ok(documented, `${method} ${template} ${status} is not documented`);
    this.seen.add(`${method} ${template} ${status}`);
    this.#checkErrorCode(method, template, operation.responses, response);
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.startsWith('application/json')) {
      if (response.text !== '') {
        assert.ok(
          documented.content &&
            Object.keys(documented.content).some((t) => contentType.startsWith(t)),
          `${method} ${template} ${status}: undocumented content type ${contentType}`,
        );
      }
      return;
    }
    const schema = documented.content?.['application/json']?.schema as
      | { $ref?: string }
      | undefined;
    assert.ok(schema, `${method} ${template} ${status}: no JSON schema documented`);
    const validate = schema.$ref
      ? this.#ajv.getSchema(`openapi${schema.$ref}`)
      : this.#ajv.compile(schema);
    assert.ok(validate, `cannot resolve ${schema.$ref}`);
    const ok = validate(response.body);
    assert.ok(
      ok,
      `${method} ${template} ${status} does not match /openapi.json: ${this.#ajv.errorsText(validate.errors)}\n${response.text}`,
    );
  }
}

export interface Service {
  readonly base: string;
  readonly app: FastifyInstance;
  readonly guestmode: Guestmode;
  readonly issuer: TestIssuer;
  readonly openapi: OpenApiChecker;
  /** The engine's clock: tests move it to expire guests. */
  clock: number;
  request<T = unknown>(
    method: string,
    template: string,
    options?: RequestOptions,
  ): Promise<Response<T>>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  readonly kind: StorageKind;
  readonly config?: Partial<ServerConfig>;
  readonly guestTtl?: string;
  readonly mergeRules?: Parameters<typeof createGuestmode>[0]['mergeRules'];
  readonly issuer?: TestIssuer;
  readonly server?: Partial<BuildServerOptions>;
  /** Wraps the store, e.g. to make it fail on demand. */
  readonly wrapStorage?: (storage: GuestStorage) => GuestStorage;
}

/** Starts the service on 127.0.0.1:0 with its own store and (unless given) its own issuer. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { storage, cleanup } = await openTestStorage(options.kind);
  const issuer = options.issuer ?? (await startTestIssuer());
  const service = {} as Service;
  service.clock = Date.now();
  const guestmode = createGuestmode({
    storage: options.wrapStorage ? options.wrapStorage(storage) : storage,
    guestTtl: options.guestTtl ?? '30d',
    mergeRules: options.mergeRules ?? {
      cart: 'sum-by-key',
      drafts: 'transfer',
      theme: 'user-wins',
      'note:*': 'newest-wins',
    },
    accessTokens: { issuer: issuer.issuer, audience: issuer.audience },
    now: () => service.clock,
    // The service passes its purge interval to an engine it opens; this one is handed in.
    purge: options.config?.purgeIntervalMs
      ? { intervalMs: options.config.purgeIntervalMs }
      : { enabled: false },
  });
  const app = await buildServer({
    guestmode,
    closeGuestmode: true,
    statsCacheMs: 0,
    now: () => service.clock,
    ...options.server,
    config: { purgeIntervalMs: 0, adminToken: ADMIN_TOKEN, ...options.config },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  const base = `http://127.0.0.1:${address.port}`;
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Record<string, unknown>;
  const openapi = new OpenApiChecker(doc);

  async function request<T>(
    method: string,
    template: string,
    o: RequestOptions = {},
  ): Promise<Response<T>> {
    let path = template;
    for (const [k, v] of Object.entries(o.params ?? {})) {
      path = path.replace(`{${k}}`, encodeURIComponent(v));
    }
    const headers: Record<string, string> = { ...o.headers };
    let body: string | undefined;
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['content-type'] ??= 'application/json';
    } else if (o.raw !== undefined) {
      body = o.raw;
    }
    const res = await fetch(`${base}${path}`, { method, headers, body });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    const parsed = contentType.startsWith('application/json') && text ? JSON.parse(text) : text;
    const response: Response<T> = { status: res.status, headers: res.headers, text, body: parsed };
    openapi.check(method, template, response);
    return response;
  }

  Object.assign(service, {
    base,
    app,
    guestmode,
    issuer,
    openapi,
    request,
    async close() {
      await app.close();
      if (!options.issuer) await issuer.close();
      await cleanup();
    },
  });
  return service;
}

/** Parses the Set-Cookie headers of a response into name → attributes. */
export function cookies(headers: Headers): Map<string, { value: string; attributes: string[] }> {
  const map = new Map<string, { value: string; attributes: string[] }>();
  for (const line of headers.getSetCookie()) {
    const [pair = '', ...attributes] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    map.set(pair.slice(0, eq), { value: pair.slice(eq + 1), attributes });
  }
  return map;
}

/** Asserts the `{"error":{"code","message"}}` shape and the code. */
export function assertError(response: Response, status: number, code: string): void {
  assert.equal(
    response.status,
    status,
    `expected ${status} ${code}, got ${response.status} ${response.text}`,
  );
  const body = response.body as { error?: { code?: string; message?: string } };
  assert.equal(body.error?.code, code, response.text);
  assert.equal(typeof body.error?.message, 'string');
  assert.doesNotMatch(response.text, /\bat .+:\d+:\d+|node_modules|stack/i, 'no stack traces');
}

export { assert };
