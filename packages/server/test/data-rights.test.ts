// The caller's data rights over HTTP: a guest deletes itself, a user exports everything held
// about them and erases it, merge records included. Deleted means gone, on both stores.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cookies, type Service, startService } from './harness.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Export {
  kind: string;
  id: string;
  attributes: Record<string, unknown>;
  merges: { guestId: string; mergedAt: string; result: { attributes: unknown } }[];
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`data rights on ${kind}`, () => {
    let s: Service;
    before(async () => {
      s = await startService({ kind, config: { rateLimit: false } });
    });
    after(() => s.close());

    const newGuest = async (attributes: Record<string, unknown>) => {
      const res = await s.request<{ token: string; guestId: string }>('POST', '/v1/guests', {
        json: { attributes },
      });
      assert.equal(res.status, 201);
      return res.body;
    };

    it('a guest exports and deletes itself; its cookie is cleared and its credential is dead', async () => {
      const guest = await newGuest({ cart: [{ id: 'b1', quantity: 1 }] });
      const exported = await s.request<Export>('GET', '/v1/profile/export', {
        headers: bearer(guest.token),
      });
      assert.equal(exported.status, 200);
      assert.deepEqual(exported.body, {
        kind: 'guest',
        id: guest.guestId,
        attributes: { cart: [{ id: 'b1', quantity: 1 }] },
        merges: [],
      });
      const deleted = await s.request('DELETE', '/v1/profile', {
        headers: { cookie: `guestmode=${guest.token}` },
      });
      assert.equal(deleted.status, 204);
      assert.equal(cookies(deleted.headers).get('guestmode')?.value, '');
      const after = await s.request('GET', '/v1/profile', { headers: bearer(guest.token) });
      assert.equal(after.status, 401);
      assert.deepEqual(await s.guestmode.getAttributes({ kind: 'guest', id: guest.guestId }), {});
    });

    it('a user exports their profile and merges, then erases both', async () => {
      const sub = `user-${kind}-${Date.now()}`;
      const access = await s.issuer.accessToken({ sub });
      const guest = await newGuest({ theme: 'dark' });
      const merged = await s.request('POST', '/v1/merge', {
        headers: { ...bearer(access), 'guest-token': guest.token },
      });
      assert.equal(merged.status, 200, merged.text);

      const exported = await s.request<Export>('GET', '/v1/profile/export', {
        headers: bearer(access),
      });
      assert.equal(exported.status, 200);
      assert.equal(exported.body.kind, 'user');
      assert.deepEqual(exported.body.attributes, { theme: 'dark' });
      assert.deepEqual(
        exported.body.merges.map((m) => m.guestId),
        [guest.guestId],
      );

      const deleted = await s.request('DELETE', '/v1/profile', { headers: bearer(access) });
      assert.equal(deleted.status, 204);
      const empty = await s.request<Export>('GET', '/v1/profile/export', {
        headers: bearer(access),
      });
      assert.deepEqual(empty.body, { kind: 'user', id: sub, attributes: {}, merges: [] });
      const metrics = await s.guestmode.metrics.render();
      assert.match(metrics, /^guestmode_users_deleted_total 1$/m);
    });
  });
}
