// Abuse: the guest-creation rate limit is per client address (separate loopback
// source addresses, and X-Forwarded-For only from a trusted proxy); the attribute cap holds under
// concurrent writes; a third-party page in headless Chromium cannot drive POST /v1/merge with
// the victim's cookie (CSRF); and, extending packages/express/test/merge.test.ts (planted
// cookie during sign-in), login CSRF cannot pull the victim's guest into the attacker's account.
import { createServer, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { closeServer, launchBrowser } from '@guestmode/testkit';
import type { Browser as Chromium } from 'playwright-core';
import {
  Browser,
  type Fixture,
  parseForm,
  profile,
  setAttribute,
  startFixture,
  startSignIn,
} from '../../../express/test/helpers.js';
import { type Service, startService } from '../harness.js';
import { assert, assertErrorShape, report } from './lib.js';

/** A request from a chosen loopback source address (127.0.0.x), so the peer address differs. */
function from(
  source: string,
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, localAddress: source }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end(body);
  });
}

describe('guest creation is rate limited per client address', () => {
  let s: Service;
  let behindProxy: Service;
  before(async () => {
    s = await startService({ kind: 'sqlite', config: { rateLimit: { max: 5, windowMs: 60_000 } } });
    behindProxy = await startService({
      kind: 'sqlite',
      config: { rateLimit: { max: 5, windowMs: 60_000 }, trustProxy: ['127.0.0.1'] },
    });
  });
  after(async () => {
    await s?.close();
    await behindProxy?.close();
  });

  it('each address gets its own budget; refusals create nothing; spoofed X-Forwarded-For is ignored', async (t) => {
    const create = (source: string, base = s.base, headers: Record<string, string> = {}) =>
      from(source, `${base}/v1/guests`, 'POST', headers);
    const lazy = (source: string) =>
      from(
        source,
        `${s.base}/v1/profile/attributes/cart`,
        'PUT',
        { 'content-type': 'application/json' },
        '[]',
      );
    let attempts = 0;
    const statuses = async (source: string, n: number, fn = create) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        out.push((await fn(source)).status);
        attempts++;
      }
      return out;
    };
    assert.deepEqual(await statuses('127.0.0.2', 5), [201, 201, 201, 201, 201]);
    const before = (await s.guestmode.stats()).created;
    const refused = await create('127.0.0.2');
    attempts++;
    assert.equal(refused.status, 429);
    assert.equal(assertErrorShape(refused), 'rate_limited');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    // The lazy guest (a first PUT without credential) is a guest creation too.
    assert.deepEqual(await statuses('127.0.0.2', 3, lazy), [429, 429, 429]);
    // Spoofing X-Forwarded-For from an untrusted peer changes nothing.
    for (let i = 0; i < 5; i++) {
      const spoofed = await create('127.0.0.2', s.base, { 'x-forwarded-for': `10.0.0.${i}` });
      attempts++;
      assert.equal(spoofed.status, 429);
    }
    assert.equal((await s.guestmode.stats()).created, before, 'refusals created no guest');
    // Another address still has its whole budget.
    assert.deepEqual(await statuses('127.0.0.3', 6), [201, 201, 201, 201, 201, 429]);
    // Writes by existing guests are not limited.
    const guest = JSON.parse((await create('127.0.0.4')).text) as { token: string };
    for (let i = 0; i < 20; i++) {
      const res = await from(
        '127.0.0.2',
        `${s.base}/v1/profile/attributes/n${i}`,
        'PUT',
        {
          authorization: `Bearer ${guest.token}`,
          'content-type': 'application/json',
        },
        String(i),
      );
      assert.equal(res.status, 200);
    }
    // Behind a trusted proxy (127.0.0.1), the client address is X-Forwarded-For.
    const viaProxy = async (client: string) =>
      (await create('127.0.0.1', behindProxy.base, { 'x-forwarded-for': client })).status;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 6; i++) a.push(await viaProxy('203.0.113.7'));
    for (let i = 0; i < 6; i++) b.push(await viaProxy('203.0.113.8'));
    attempts += 12;
    assert.deepEqual(a, [201, 201, 201, 201, 201, 429]);
    assert.deepEqual(b, [201, 201, 201, 201, 201, 429]);
    // ...but from a peer that is not the proxy, the header is not believed.
    const direct: number[] = [];
    for (let i = 0; i < 6; i++) {
      direct.push(
        (await create('127.0.0.5', behindProxy.base, { 'x-forwarded-for': `198.51.100.${i}` }))
          .status,
      );
    }
    attempts += 6;
    assert.deepEqual(direct, [201, 201, 201, 201, 201, 429]);
    report(t, 'rate-limit', { attempts, addresses: 7 });
  });
});

describe('attribute cap under concurrent writes', () => {
  let s: Service;
  before(async () => {
    s = await startService({ kind: 'postgres', config: { rateLimit: false } });
  });
  after(() => s?.close());

  it('60 concurrent new attributes on a guest holding 240: exactly 16 land', async (t) => {
    const attributes: Record<string, number> = {};
    for (let i = 0; i < 240; i++) attributes[`a${i}`] = i;
    const created = await s.request<{ token: string }>('POST', '/v1/guests', {
      json: { attributes },
    });
    assert.equal(created.status, 201);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        s.request('PUT', '/v1/profile/attributes/{name}', {
          params: { name: `b${i}` },
          headers: { authorization: `Bearer ${created.body.token}` },
          json: i,
        }),
      ),
    );
    const ok = answers.filter((a) => a.status === 200).length;
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.equal(assertErrorShape(a), 'too_many_attributes');
    }
    assert.equal(ok, 16);
    const profile = await s.request<{ attributes: object }>('GET', '/v1/profile', {
      headers: { authorization: `Bearer ${created.body.token}` },
    });
    assert.equal(Object.keys(profile.body.attributes).length, 256);
    report(t, 'attribute-cap', { concurrentWrites: 60, landed: ok, final: 256 });
  });
});

describe('CSRF: a third-party page cannot drive POST /v1/merge with the victim cookie', () => {
  let s: Service;
  let chromium: Chromium;
  const evil = createServer();
  let evilBase = '';
  const evilSameSite = createServer();
  let sameSiteBase = '';
  let attackerToken = '';
  let page = '';
  before(async () => {
    s = await startService({ kind: 'sqlite', config: { rateLimit: false } });
    chromium = await launchBrowser();
    attackerToken = await s.issuer.accessToken({ sub: 'user_attacker' });
    const target = `${s.base}/v1/merge`;
    // Every way a page can send a POST without the victim's help: auto-submitted forms (url-
    // encoded, text/plain, multipart), fetch in no-cors mode, fetch with the attacker's own
    // access token (needs a CORS preflight), sendBeacon, and the preview endpoint.
    page = `<!doctype html><title>win a prize</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<form id="f1" method="POST" action="${target}" target="sink1"><input name="guestToken" value="x"></form>
<form id="f2" method="POST" action="${target}" enctype="text/plain" target="sink2"><input name='{"a":"' value='"}'></form>
<form id="f3" method="POST" action="${s.base}/v1/merge/preview" enctype="multipart/form-data" target="sink3"><input name="a" value="b"></form>
<script>
window.results = [];
const note = (what, p) => p.then((r) => results.push(what + ' ' + r.status + ' ' + r.type), (e) => results.push(what + ' blocked ' + e.name));
document.getElementById('f1').submit();
document.getElementById('f2').submit();
document.getElementById('f3').submit();
note('no-cors text', fetch('${target}', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{}' }));
note('cors json', fetch('${target}', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{}' }));
note('with token', fetch('${target}', { method: 'POST', credentials: 'include', headers: { authorization: 'Bearer ${attackerToken}' } }));
note('with token and Guest-Token', fetch('${target}', { method: 'POST', credentials: 'include', headers: { authorization: 'Bearer ${attackerToken}', 'guest-token': 'x' } }));
results.push('beacon ' + navigator.sendBeacon('${target}', 'x'));
</script>`;
    const serve = (server: typeof evil) =>
      server.on('request', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(page);
      });
    serve(evil);
    serve(evilSameSite);
    // Another site (127.0.0.2), and the same site on another port (same-site, cross-origin).
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.2', resolve));
    evilBase = `http://127.0.0.2:${(evil.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => evilSameSite.listen(0, '127.0.0.1', resolve));
    sameSiteBase = `http://127.0.0.1:${(evilSameSite.address() as { port: number }).port}`;
  });
  after(async () => {
    await chromium?.close();
    await closeServer(evil);
    await closeServer(evilSameSite);
    await s?.close();
  });

  it('forms, fetch and beacons from another site or origin are refused; the guest is untouched', async (t) => {
    const seen: string[] = [];
    let attempts = 0;
    for (const attackerBase of [evilBase, sameSiteBase]) {
      const context = await chromium.newContext();
      try {
        // The victim's browser holds a guest cookie set by the service itself.
        const victimPage = await context.newPage();
        // Any page of the service gives the victim its origin; the dashboard needs the admin token.
        await victimPage.goto(`${s.base}/openapi.json`);
        const created = await victimPage.evaluate(async () => {
          const res = await fetch('/v1/guests', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ attributes: { cart: [{ id: 'b1', quantity: 3 }] } }),
          });
          return (await res.json()) as { token: string };
        });
        const cookies = await context.cookies(s.base);
        assert.equal(cookies.find((c) => c.name === 'guestmode')?.value, created.token);

        const attack = await context.newPage();
        const merges: number[] = [];
        attack.on('response', (res) => {
          if (res.url().startsWith(`${s.base}/v1/merge`)) merges.push(res.status());
        });
        await attack.goto(attackerBase);
        await attack.waitForFunction(
          () => (globalThis as unknown as { results: string[] }).results.length >= 5,
          null,
          { timeout: 15_000 },
        );
        await attack.waitForTimeout(500);
        const results = await attack.evaluate(
          () => (globalThis as unknown as { results: string[] }).results,
        );
        attempts += results.length + 3;
        seen.push(
          ...results.map((r) => `${attackerBase === evilBase ? 'cross-site' : 'same-site'} ${r}`),
        );
        for (const status of merges) assert.ok(status >= 400, `a merge request got ${status}`);
        for (const r of results) {
          assert.doesNotMatch(r, / 200 /, `an attack succeeded: ${r}`);
        }
        // The victim's guest is still active and unchanged; the attacker got nothing.
        const still = await s.request<{ attributes: unknown }>('GET', '/v1/profile', {
          headers: { authorization: `Bearer ${created.token}` },
        });
        assert.equal(still.status, 200, still.text);
        assert.deepEqual(still.body.attributes, { cart: [{ id: 'b1', quantity: 3 }] });
        const attacker = await s.request<{ attributes: unknown }>('GET', '/v1/profile', {
          headers: { authorization: `Bearer ${attackerToken}` },
        });
        assert.deepEqual(attacker.body.attributes, {});
      } finally {
        await context.close();
      }
    }
    // What a browser that skipped the preflight would send still fails the same-origin rule.
    const guest = await s.request<{ token: string }>('POST', '/v1/guests');
    for (const headers of <Record<string, string>[]>[
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: evilBase },
    ]) {
      const res = await s.request('POST', '/v1/merge', {
        headers: {
          authorization: `Bearer ${attackerToken}`,
          cookie: `guestmode=${guest.body.token}`,
          ...headers,
        },
      });
      assert.equal(res.status, 403);
      assert.equal(assertErrorShape(res), 'cross_site_request');
      attempts++;
    }
    report(t, 'csrf', { attempts, observed: seen });
  });
});

describe('planted cookie and login CSRF in the Express integration', () => {
  // packages/express/test/merge.test.ts covers a cookie planted during the sign-in (confirm page,
  // discard, CSRF-protected decision). This adds the other direction: the victim's guest must
  // not flow into the attacker's account, and a planted cookie cannot be used to read the
  // victim's account afterwards.
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f?.close());

  it("login CSRF: the attacker's sign-in callback in the victim's browser merges nothing", async (t) => {
    const victim = new Browser();
    await setAttribute(victim, f.url, 'cart', [{ id: 'victim-book', quantity: 2 }]);
    const victimGuest = victim.get(f.url, 'guestmode')!.value;
    // The attacker signs in in his own browser but stops before the callback.
    const attacker = new Browser();
    const start = await attacker.follow(`${f.url}/logto/sign-in`);
    const form = parseForm(await start.res.text(), '/sign-in');
    let res = await attacker.fetch(new URL(form.action, start.url).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...form.fields,
        username: 'bob',
        password: 'bob password 12',
      }).toString(),
    });
    let callback = '';
    for (let hops = 0; hops < 20; hops++) {
      const location = res.headers.get('location');
      if (!location) break;
      const next = new URL(location, res.url || start.url).href;
      if (next.startsWith(`${f.url}/logto/sign-in-callback`)) {
        callback = next;
        break;
      }
      await res.arrayBuffer();
      res = await attacker.fetch(next);
    }
    assert.ok(callback, 'the attacker has a callback URL with his code');
    // The victim is lured to it.
    const landed = await victim.follow(callback);
    // Refused as the client's fault (400 sign_in_failed), not a server error.
    assert.equal(landed.res.status, 400);
    assert.deepEqual(
      await f.engine.getAttributes({ kind: 'user', id: f.users.bob }),
      {},
      "nothing in the attacker's account",
    );
    const session = await f.engine.validateGuest(victimGuest);
    assert.ok(session, "the victim's guest is still active");
    assert.notEqual(
      (await profile(victim, f.url)).kind,
      'user',
      'the victim is not signed in as the attacker',
    );
    report(t, 'express-login-csrf', { callbackStatus: landed.res.status });
  });

  it('a planted token that the victim merged is dead for the attacker', async (t) => {
    const attacker = new Browser();
    await setAttribute(attacker, f.url, 'theme', 'evil');
    const planted = attacker.get(f.url, 'guestmode')!.value;
    const victim = new Browser();
    victim.plant(f.url, 'guestmode', planted);
    // The victim signs in from the app's page and accepts the guest data he sees (worst case for
    // the victim).
    const start = await startSignIn(victim, f.url);
    const form = parseForm(await start.res.text(), '/sign-in');
    await victim.submit(new URL(form.action, start.url).href, {
      ...form.fields,
      username: 'alice',
      password: 'alice password 1',
    });
    // The attacker comes back with his copy of the token: a new empty visitor, not Alice.
    const view = await profile(attacker, f.url);
    assert.equal(view.kind === 'user', false);
    assert.deepEqual(view.attributes, {});
    assert.equal(JSON.stringify(view).includes(f.users.alice), false);
    report(t, 'express-planted-replay', { attackerView: view.kind });
  });
});
