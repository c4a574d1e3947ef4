import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GuestmodeError } from '@guestmode/core';
import { type Dispatcher, getGlobalDispatcher, MockAgent, setGlobalDispatcher } from 'undici';
import {
  type ConnectorRecord,
  type DevUpstream,
  parseConnectorRecord,
  SocialHost,
  startDevUpstream,
  TokenVault,
  tokenBoxOwner,
} from '../src/social/index.ts';

const endpoint = 'http://127.0.0.1:3001';
const quiet = () => {};

function record(
  overrides: Partial<ConnectorRecord> & { config: Record<string, unknown> },
): ConnectorRecord {
  return {
    id: 'dev',
    factoryId: 'oauth2',
    target: 'dev-upstream',
    name: { en: 'Dev upstream', ja: '開発用' },
    syncProfile: 'on-sign-up',
    storeTokens: false,
    enabled: true,
    ...overrides,
  };
}

async function rejectsWith(
  promise: Promise<unknown> | (() => unknown),
  code: string,
  check?: (error: GuestmodeError) => void,
) {
  const run = typeof promise === 'function' ? async () => promise() : () => promise;
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof GuestmodeError, `expected GuestmodeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(error.status >= 400 && error.status < 500);
    check?.(error);
    return true;
  });
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Drives the upstream's authorization like a browser: manual redirects, a cookie jar, and a press
 * on the button with the accessible name `press`. Returns the query of the final redirect to
 * `redirectUri`, which is never fetched.
 */
async function authorizeAtUpstream(
  authUrl: string,
  redirectUri: string,
  press: string,
): Promise<Record<string, string>> {
  const jar = new Map<string, string>();
  let next: { url: string; body?: string } = { url: authUrl };
  for (let step = 0; step < 12; step += 1) {
    const headers: Record<string, string> = {
      cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; '),
    };
    if (next.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(next.url, {
      method: next.body === undefined ? 'GET' : 'POST',
      redirect: 'manual',
      headers,
      ...(next.body === undefined ? {} : { body: next.body }),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(cookie)) jar.delete(name);
      else jar.set(name, value);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const location = new URL(response.headers.get('location') ?? '', next.url).href;
      if (location.startsWith(redirectUri)) {
        return Object.fromEntries(new URL(location).searchParams);
      }
      next = { url: location };
      continue;
    }
    const html = await response.text();
    assert.equal(response.status, 200, html);
    const button = new RegExp(
      `<form method="post" action="([^"]+)">(?:(?!</form>)[\\s\\S])*?<button type="submit"(?: name="([^"]+)" value="([^"]+)")?>${escapeRegExp(press)}</button>`,
    ).exec(html);
    assert.ok(button, `no button "${press}" on ${next.url}`);
    const [, action = '', name, value] = button;
    next = {
      url: new URL(action.replaceAll('&amp;', '&'), next.url).href,
      body: name ? new URLSearchParams({ [name]: value ?? '' }).toString() : '',
    };
  }
  throw new Error('the upstream did not redirect back within 12 steps');
}

describe('OAuth 2.0 connector against the development upstream', () => {
  let upstream: DevUpstream;
  const vault = new TokenVault(Buffer.alloc(32, 7));

  before(async () => {
    upstream = await startDevUpstream({ port: 0, log: quiet });
  });
  after(() => upstream.close());

  const combinations = [
    ['client_secret_post', 'json', undefined],
    ['client_secret_post', 'query-string', undefined],
    ['client_secret_basic', 'json', undefined],
    ['client_secret_basic', 'query-string', undefined],
    ['client_secret_jwt', 'json', 'HS384'],
    ['client_secret_jwt', 'query-string', 'HS512'],
  ] as const;

  for (const [method, responseType, alg] of combinations) {
    it(`signs in with ${method}${alg ? ` (${alg})` : ''} and a ${responseType} token response`, async () => {
      const config = upstream.connectorConfig({
        tokenEndpointAuthMethod: method,
        tokenEndpointResponseType: responseType,
        ...(alg ? { clientSecretJwtSigningAlgorithm: alg } : {}),
      });
      const parsed = await parseConnectorRecord(record({ config, storeTokens: true }));
      const host = await SocialHost.create([parsed], { endpoint, vault });
      const redirectUri = host.callbackUri('dev');
      assert.equal(redirectUri, `${endpoint}/callback/dev`);

      const { url, session } = await host.authorizationUrl('dev', {
        redirectUri,
        jti: 'interaction-1',
      });
      const authUrl = new URL(url);
      assert.equal(authUrl.origin + authUrl.pathname, upstream.authorizationEndpoint);
      assert.equal(authUrl.searchParams.get('state'), session.state);
      assert.ok(String(session.state).length >= 43, 'state carries at least 256 bits');
      assert.equal(session.redirectUri, redirectUri);
      assert.deepEqual(
        JSON.parse(JSON.stringify(session)),
        session,
        'session is JSON-serialisable',
      );

      const query = await authorizeAtUpstream(url, redirectUri, 'Continue as Ada Lovelace');
      assert.ok(query.code);
      const { userInfo, tokens } = await host.handleCallback('dev', {
        query,
        session,
        redirectUri,
      });
      assert.deepEqual(
        { ...userInfo, rawData: undefined },
        {
          id: 'ada',
          name: 'Ada Lovelace',
          avatar: `${upstream.issuer}/avatars/ada.svg`,
          email: 'ada@example.com',
          phone: '+819012345678',
          rawData: undefined,
        },
      );
      assert.equal((userInfo.rawData as { sub: string }).sub, 'ada');

      assert.ok(tokens, 'tokens are stored when storeTokens is set and a vault exists');
      const identity = { target: 'dev-upstream', identityId: 'ada' };
      const stored = host.readTokens(tokens.encrypted, identity);
      assert.ok(stored.accessToken);
      assert.ok(stored.refreshToken, 'a refresh token for offline_access');
      assert.equal(tokens.encrypted.includes(stored.accessToken), false);
      assert.equal(tokens.encrypted.includes(stored.refreshToken), false);
      if (responseType === 'json') assert.ok(stored.expiresAt! > stored.obtainedAt);

      const refreshed = await host.refreshTokens('dev', tokens.encrypted, 'ada');
      assert.notEqual(refreshed.tokens.accessToken, stored.accessToken);
      assert.ok(refreshed.tokens.refreshToken);
      assert.deepEqual(host.readTokens(refreshed.encrypted, identity), refreshed.tokens);
      // The box is bound to its identity: in another identity's row it does not open.
      await rejectsWith(
        () => host.readTokens(tokens.encrypted, { ...identity, identityId: 'grace' }),
        'vault_decrypt_failed',
      );
      await rejectsWith(
        () => host.readTokens(tokens.encrypted, { ...identity, target: 'other' }),
        'vault_decrypt_failed',
      );

      // The code is single-use: replaying the callback fails cleanly.
      await rejectsWith(
        host.handleCallback('dev', { query, session, redirectUri }),
        'social_auth_failed',
      );
    });
  }

  it('returns no tokens without storeTokens, or without a vault', async () => {
    const config = upstream.connectorConfig();
    for (const [storeTokens, withVault] of [
      [false, true],
      [true, false],
    ] as const) {
      const host = await SocialHost.create([record({ config, storeTokens })], {
        endpoint,
        ...(withVault ? { vault } : {}),
      });
      const redirectUri = host.callbackUri('dev');
      const { url, session } = await host.authorizationUrl('dev', { redirectUri, jti: 'j' });
      const query = await authorizeAtUpstream(url, redirectUri, 'Continue as Grace Hopper');
      const result = await host.handleCallback('dev', { query, session, redirectUri });
      assert.equal(result.userInfo.id, 'grace');
      assert.equal(result.tokens, undefined);
    }
  });

  it('turns a cancelled upstream sign-in into access_denied', async () => {
    const host = await SocialHost.create([record({ config: upstream.connectorConfig() })], {
      endpoint,
    });
    const redirectUri = host.callbackUri('dev');
    const { url, session } = await host.authorizationUrl('dev', { redirectUri, jti: 'j' });
    const query = await authorizeAtUpstream(url, redirectUri, 'Cancel');
    assert.equal(query.error, 'access_denied');
    await rejectsWith(
      host.handleCallback('dev', { query, session, redirectUri }),
      'access_denied',
      (e) => {
        assert.equal(e.status, 403);
        assert.match(e.message, /Dev upstream/);
      },
    );
  });

  it('refuses a wrong or missing state, and a session of another connector', async () => {
    const config = upstream.connectorConfig();
    const host = await SocialHost.create(
      [record({ config }), record({ id: 'other', target: 'other', config })],
      { endpoint },
    );
    const redirectUri = host.callbackUri('dev');
    const { session } = await host.authorizationUrl('dev', { redirectUri, jti: 'j' });
    const state = String(session.state);
    await rejectsWith(
      host.handleCallback('dev', {
        query: { code: 'c', state: `${state}x` },
        session,
        redirectUri,
      }),
      'invalid_state',
    );
    await rejectsWith(
      host.handleCallback('dev', { query: { code: 'c' }, session, redirectUri }),
      'invalid_state',
    );
    await rejectsWith(
      host.handleCallback('dev', {
        query: { code: 'c', state },
        session: { ...session, state: undefined },
        redirectUri,
      }),
      'invalid_state',
    );
    await rejectsWith(
      host.handleCallback('dev', {
        query: { code: 'c', state: '' },
        session: { ...session, state: '' },
        redirectUri,
      }),
      'invalid_state',
    );
    // A forged error without our state is a state error, not an upstream error.
    await rejectsWith(
      host.handleCallback('dev', { query: { error: 'access_denied' }, session, redirectUri }),
      'invalid_state',
    );
    await rejectsWith(
      host.handleCallback('other', {
        query: { code: 'c', state },
        session,
        redirectUri: host.callbackUri('other'),
      }),
      'invalid_session',
    );
    await rejectsWith(
      host.handleCallback('dev', {
        query: { code: 'c', state },
        session,
        redirectUri: `${redirectUri}/x`,
      }),
      'invalid_session',
    );
    await rejectsWith(
      host.handleCallback('dev', {
        query: { error: 'temporarily_unavailable', state },
        session,
        redirectUri,
      }),
      'upstream_error',
      (e) => assert.match(e.message, /temporarily_unavailable/),
    );
    await rejectsWith(
      host.handleCallback('dev', { query: { error: '<script>', state }, session, redirectUri }),
      'upstream_error',
      (e) => assert.equal(e.message.includes('<script>'), false),
    );
    await rejectsWith(
      host.handleCallback('dev', { query: { state }, session, redirectUri }),
      'missing_code',
    );
    await rejectsWith(
      host.handleCallback('dev', {
        query: { code: 'not-a-real-code', state },
        session,
        redirectUri,
      }),
      'social_auth_failed',
      (e) => assert.equal(e.message.includes('not-a-real-code'), false),
    );
  });

  it('reports a wrong client secret as a failed sign-in without echoing it', async () => {
    const config = upstream.connectorConfig({
      clientSecret: 'wrong-secret-value',
      tokenEndpointAuthMethod: 'client_secret_jwt',
    });
    const host = await SocialHost.create([record({ config })], { endpoint });
    const redirectUri = host.callbackUri('dev');
    const { url, session } = await host.authorizationUrl('dev', { redirectUri, jti: 'j' });
    const query = await authorizeAtUpstream(url, redirectUri, 'Continue as Ada Lovelace');
    await rejectsWith(
      host.handleCallback('dev', { query, session, redirectUri }),
      'social_auth_failed',
      (e) => assert.equal(e.message.includes('wrong-secret-value'), false),
    );
  });
});

describe('Amazon connector with Amazon intercepted by undici MockAgent', () => {
  let previous: Dispatcher;
  let agent: MockAgent;

  before(() => {
    previous = getGlobalDispatcher();
    agent = new MockAgent();
    agent.disableNetConnect();
    // Node 20's built-in fetch (which ky uses) honours undici 7's global dispatcher.
    setGlobalDispatcher(agent);
  });
  after(async () => {
    setGlobalDispatcher(previous);
    await agent.close();
  });

  const amazon = (config: Record<string, unknown> = {}) =>
    parseConnectorRecord({
      id: 'amazon',
      factoryId: 'amazon-universal',
      name: { en: 'Amazon', ja: 'Amazon' },
      config: {
        clientId: 'amzn1.application-oa2-client.abc',
        clientSecret: 'amazon-secret',
        ...config,
      },
    });

  it('exchanges the code and maps the profile', async () => {
    const parsed = await amazon();
    assert.equal(parsed.target, 'amazon', 'Amazon keeps its fixed IdP name');
    assert.equal(parsed.syncProfile, 'on-sign-up');
    const host = await SocialHost.create([parsed], { endpoint });
    const redirectUri = host.callbackUri('amazon');
    assert.equal(redirectUri, 'http://127.0.0.1:3001/callback/amazon');
    const { url, session } = await host.authorizationUrl('amazon', { redirectUri, jti: 'j' });
    const authUrl = new URL(url);
    assert.equal(authUrl.origin + authUrl.pathname, 'https://www.amazon.com/ap/oa');
    assert.equal(authUrl.searchParams.get('client_id'), 'amzn1.application-oa2-client.abc');
    assert.equal(authUrl.searchParams.get('redirect_uri'), redirectUri);
    assert.equal(authUrl.searchParams.get('response_type'), 'code');
    assert.equal(authUrl.searchParams.get('scope'), 'profile');
    assert.equal(authUrl.searchParams.get('state'), session.state);

    let tokenRequest: URLSearchParams | undefined;
    let profileAuthorization: unknown;
    const api = agent.get('https://api.amazon.com');
    api.intercept({ path: '/auth/o2/token', method: 'POST' }).reply(200, (options) => {
      tokenRequest = new URLSearchParams(String(options.body));
      return {
        access_token: 'Atza|access',
        token_type: 'bearer',
        expires_in: 3600,
        refresh_token: 'Atzr|r',
      };
    });
    api.intercept({ path: '/user/profile', method: 'GET' }).reply(200, (options) => {
      profileAuthorization = new Headers(options.headers as Record<string, string>).get(
        'authorization',
      );
      return { user_id: 'amzn1.account.ADA', name: 'Ada Lovelace', email: 'ada@example.com' };
    });

    const { userInfo, tokens } = await host.handleCallback('amazon', {
      query: { code: 'ANAuthCode', scope: 'profile', state: String(session.state) },
      session,
      redirectUri,
    });
    assert.deepEqual(Object.fromEntries(tokenRequest ?? []), {
      grant_type: 'authorization_code',
      code: 'ANAuthCode',
      redirect_uri: redirectUri,
      client_id: 'amzn1.application-oa2-client.abc',
      client_secret: 'amazon-secret',
    });
    assert.equal(profileAuthorization, 'Bearer Atza|access');
    assert.deepEqual(userInfo, {
      id: 'amzn1.account.ADA',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      rawData: { user_id: 'amzn1.account.ADA', name: 'Ada Lovelace', email: 'ada@example.com' },
    });
    assert.equal(tokens, undefined, 'the Amazon connector does not expose its tokens');
    agent.assertNoPendingInterceptors();
  });

  it('passes a configured scope and surfaces a rejected access token', async () => {
    const host = await SocialHost.create([await amazon({ scope: 'profile postal_code' })], {
      endpoint,
    });
    const redirectUri = host.callbackUri('amazon');
    const { url, session } = await host.authorizationUrl('amazon', { redirectUri, jti: 'j' });
    assert.equal(new URL(url).searchParams.get('scope'), 'profile postal_code');
    const api = agent.get('https://api.amazon.com');
    api
      .intercept({ path: '/auth/o2/token', method: 'POST' })
      .reply(200, { access_token: 'Atza|x' });
    api.intercept({ path: '/user/profile', method: 'GET' }).reply(401, { error: 'invalid_token' });
    await rejectsWith(
      host.handleCallback('amazon', {
        query: { code: 'c', state: String(session.state) },
        session,
        redirectUri,
      }),
      'social_auth_failed',
      (e) => assert.match(e.message, /social_invalid_access_token/),
    );
    api
      .intercept({ path: '/auth/o2/token', method: 'POST' })
      .reply(400, { error: 'invalid_grant' });
    await rejectsWith(
      host.handleCallback('amazon', {
        query: { code: 'c', state: String(session.state) },
        session,
        redirectUri,
      }),
      'social_auth_failed',
    );
    agent.assertNoPendingInterceptors();
  });
});

describe('connector configuration', () => {
  const oauth = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id: 'github',
    factoryId: 'oauth2',
    target: 'github',
    name: { en: 'GitHub' },
    config: {
      authorizationEndpoint: 'https://github.com/login/oauth/authorize',
      tokenEndpoint: 'https://github.com/login/oauth/access_token',
      userInfoEndpoint: 'https://api.github.com/user',
      clientId: 'Iv1.client',
      clientSecret: 'SUPER-SECRET-VALUE',
      ...config,
    },
    ...extra,
  });

  const invalid = (json: unknown, field: string | RegExp) =>
    rejectsWith(parseConnectorRecord(json), 'invalid_connector_config', (e) => {
      if (typeof field === 'string')
        assert.ok(e.message.includes(field), `"${e.message}" names ${field}`);
      else assert.match(e.message, field);
      assert.equal(e.message.includes('SUPER-SECRET-VALUE'), false);
    });

  it('accepts the seed fields and fills defaults', async () => {
    const parsed = await parseConnectorRecord(
      oauth({
        tokenEndpointAuthMethod: 'client_secret_basic',
        clientSecretJwtSigningAlgorithm: 'HS512',
        tokenEndpointResponseType: 'query-string',
        scope: 'read:user user:email',
        profileMap: {
          id: 'id',
          name: 'name',
          avatar: 'avatar_url',
          email: 'email',
          phone: 'phone',
        },
        customConfig: { allow_signup: 'false' },
        responseType: 'code',
        grantType: 'authorization_code',
      }),
    );
    assert.equal(parsed.enabled, true);
    assert.equal(parsed.storeTokens, false);
    assert.equal(parsed.syncProfile, 'on-sign-up');
    assert.deepEqual(await parseConnectorRecord(parsed), parsed, 'parsing is idempotent');
  });

  it("rejects bad OAuth 2.0 configs with the connector's own guard, naming the field", async () => {
    const { clientSecret: _omit, ...withoutSecret } = oauth({}).config;
    await invalid({ ...oauth({}), config: withoutSecret }, 'config.clientSecret');
    await invalid(oauth({ clientSecret: 12345 }), 'config.clientSecret');
    await invalid(
      oauth({ tokenEndpointAuthMethod: 'private_key_jwt' }),
      'config.tokenEndpointAuthMethod',
    );
    await invalid(
      oauth({ clientSecretJwtSigningAlgorithm: 'RS256' }),
      'config.clientSecretJwtSigningAlgorithm',
    );
    await invalid(oauth({ tokenEndpointResponseType: 'xml' }), 'config.tokenEndpointResponseType');
    await invalid(oauth({ responseType: 'token' }), 'config.responseType');
    await invalid(oauth({ grantType: 'password' }), 'config.grantType');
    await invalid(oauth({ profileMap: { id: 42 } }), 'config.profileMap.id');
    await invalid(oauth({ customConfig: { prompt: 1 } }), 'config.customConfig.prompt');
    await invalid(
      oauth({ tokenEndpointAuthmethod: 'client_secret_jwt' }),
      'tokenEndpointAuthmethod',
    );
    await invalid(
      oauth({ authorizationEndpoint: 'javascript:alert(1)' }),
      'config.authorizationEndpoint',
    );
    await invalid(oauth({ userInfoEndpoint: 'not a url' }), 'config.userInfoEndpoint');
  });

  it('rejects bad records', async () => {
    await invalid(null, /JSON object/);
    await invalid(oauth({}, { id: 'a/b' }), 'id');
    await invalid(oauth({}, { factoryId: 'github' }), 'factoryId');
    await invalid(oauth({}, { target: '' }), 'target');
    await invalid(oauth({}, { name: { en: '' } }), 'name.en');
    await invalid(oauth({}, { logo: 'javascript:alert(1)' }), 'logo');
    await invalid(oauth({}, { syncProfile: 'always' }), 'syncProfile');
    await invalid(oauth({}, { storeTokens: 'yes' }), 'storeTokens');
    await invalid(oauth({}, { clientSecret: 'SUPER-SECRET-VALUE' }), 'clientSecret');
    await invalid({ ...oauth({}), config: 'x' }, 'config');
  });

  it("rejects bad Amazon configs with the connector's own guard", async () => {
    const amazon = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      id: 'amazon',
      factoryId: 'amazon-universal',
      config: { clientId: 'id', clientSecret: 'SUPER-SECRET-VALUE', ...config },
      ...extra,
    });
    assert.equal((await parseConnectorRecord(amazon({}))).name.en, 'Amazon');
    await invalid(amazon({ clientId: undefined }), 'config.clientId');
    await invalid(amazon({ scope: ['profile'] }), 'config.scope');
    await invalid(amazon({ tokenEndpoint: 'https://example.com' }), 'tokenEndpoint');
    await invalid(amazon({}, { target: 'my-amazon' }), 'target must be "amazon"');
    await invalid(amazon({}, { storeTokens: true }), 'storeTokens');
  });

  it('refuses duplicate targets and ids, and lists only enabled connectors', async () => {
    const github = await parseConnectorRecord(oauth({}, { logo: 'https://example.com/gh.svg' }));
    await rejectsWith(
      SocialHost.create([github, { ...github, id: 'github2', enabled: false }], { endpoint }),
      'duplicate_connector',
      (e) => assert.match(e.message, /"github"/),
    );
    await rejectsWith(
      SocialHost.create([github, { ...github, target: 'gh2' }], { endpoint }),
      'duplicate_connector',
    );
    const host = await SocialHost.create(
      [github, { ...github, id: 'off', target: 'off', enabled: false }],
      { endpoint: 'http://localhost:3001/' },
    );
    assert.deepEqual(host.list(), [
      {
        id: 'github',
        target: 'github',
        name: { en: 'GitHub' },
        logo: 'https://example.com/gh.svg',
      },
    ]);
    assert.equal(host.callbackUri('github'), 'http://localhost:3001/callback/github');
    assert.equal(JSON.stringify(host.connector('github')).includes('SUPER-SECRET-VALUE'), false);
    await rejectsWith(
      host.authorizationUrl('off', { redirectUri: host.callbackUri('off'), jti: 'j' }),
      'connector_not_found',
    );
    await rejectsWith(
      host.authorizationUrl('nope', { redirectUri: host.callbackUri('nope'), jti: 'j' }),
      'connector_not_found',
    );
  });
});

describe('TokenVault', () => {
  const key = Buffer.alloc(32, 1);
  const owner = tokenBoxOwner('github', '12345');

  it('round-trips, never shows the plaintext, and uses a fresh IV each time', () => {
    const vault = new TokenVault(key);
    const secret = JSON.stringify({ accessToken: 'gho_plaintext_token_value' });
    const box = vault.encrypt(secret, owner);
    assert.match(box, /^v2\.[A-Za-z0-9_-]+$/);
    assert.equal(box.includes('gho_plaintext_token_value'), false);
    assert.equal(Buffer.from(box.slice(3), 'base64url').includes('gho_plaintext'), false);
    assert.notEqual(vault.encrypt(secret, owner), box);
    assert.equal(vault.decrypt(box, owner), secret);
    assert.equal(vault.decrypt(vault.encrypt('', 'user-1'), 'user-1'), '');
    assert.throws(() => vault.encrypt(secret, ''), TypeError, 'a box always has an owner');
  });

  it('detects tampering, truncation, a wrong key and another owner', async () => {
    const vault = new TokenVault(key);
    const box = vault.encrypt('hello', owner);
    const bytes = Buffer.from(box.slice(3), 'base64url');
    for (const index of [0, 13, bytes.length - 1]) {
      const copy = Buffer.from(bytes);
      copy[index]! ^= 1;
      await rejectsWith(
        () => vault.decrypt(`v2.${copy.toString('base64url')}`, owner),
        'vault_decrypt_failed',
      );
    }
    await rejectsWith(() => vault.decrypt(box.slice(0, 20), owner), 'vault_decrypt_failed');
    await rejectsWith(() => vault.decrypt(`v3${box.slice(2)}`, owner), 'vault_decrypt_failed');
    await rejectsWith(() => vault.decrypt('garbage', owner), 'vault_decrypt_failed');
    await rejectsWith(
      () => new TokenVault(Buffer.alloc(32, 2)).decrypt(box, owner),
      'vault_decrypt_failed',
    );
    // Swapped between users or connectors, a box does not open.
    await rejectsWith(
      () => vault.decrypt(box, tokenBoxOwner('github', '67890')),
      'vault_decrypt_failed',
    );
    await rejectsWith(
      () => vault.decrypt(box, tokenBoxOwner('google', '12345')),
      'vault_decrypt_failed',
    );
    assert.throws(() => new TokenVault(Buffer.alloc(16)), TypeError);
  });

  it('refuses a box sealed without an owner (v1) with a message that says what to do', () => {
    const vault = new TokenVault(key);
    const v1 = `v1.${vault.encrypt('x', owner).slice(3)}`;
    assert.throws(
      () => vault.decrypt(v1, owner),
      (error: unknown) =>
        error instanceof GuestmodeError &&
        error.code === 'vault_decrypt_failed' &&
        /sign in with the connector again/.test(error.message),
    );
  });

  it('reads GUESTMODE_IDP_VAULT_KEY as base64url or hex, and never prints a bad one', async () => {
    assert.equal(TokenVault.fromEnv({}), undefined);
    assert.equal(TokenVault.fromEnv({ GUESTMODE_IDP_VAULT_KEY: '' }), undefined);
    const b64 = TokenVault.generateKey();
    const fromB64 = TokenVault.fromEnv({ GUESTMODE_IDP_VAULT_KEY: b64 })!;
    const fromHex = TokenVault.fromEnv({
      GUESTMODE_IDP_VAULT_KEY: Buffer.from(b64, 'base64url').toString('hex'),
    })!;
    assert.equal(fromHex.decrypt(fromB64.encrypt('same key', 'o'), 'o'), 'same key');
    for (const bad of [
      'too-short-secret-key',
      `${b64}AAAA`,
      'z'.repeat(64),
      `${b64.slice(0, 42)}!`,
    ]) {
      // The operator's setting, not a client's input: a TypeError naming the variable.
      assert.throws(
        () => TokenVault.fromEnv({ GUESTMODE_IDP_VAULT_KEY: bad }),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message.startsWith('GUESTMODE_IDP_VAULT_KEY: ') &&
          !e.message.includes(bad),
      );
    }
  });
});

describe('development upstream', () => {
  it('warns loudly on start and serves discovery', async () => {
    const lines: string[] = [];
    const upstream = await startDevUpstream({ port: 0, log: (line) => lines.push(line) });
    try {
      assert.match(lines.join('\n'), /DEVELOPMENT-ONLY/);
      const discovery = (await (
        await fetch(`${upstream.issuer}/.well-known/openid-configuration`)
      ).json()) as Record<string, unknown>;
      assert.equal(discovery.issuer, upstream.issuer);
      assert.equal(discovery.token_endpoint, upstream.tokenEndpoint);
      assert.equal(discovery.userinfo_endpoint, upstream.userInfoEndpoint);
    } finally {
      await upstream.close();
    }
  });

  it('refuses NODE_ENV=production', async () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await rejectsWith(startDevUpstream({ port: 0, log: quiet }), 'production_refused');
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = previous;
    }
  });
});
