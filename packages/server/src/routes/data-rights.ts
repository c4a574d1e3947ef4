import type { FastifyInstance } from 'fastify';
import { clearGuestCookie, guestCredential, requireCaller } from '../auth.js';
import { JSON_TYPE, type RouteContext } from './context.js';

/**
 * The caller's data rights: `GET /v1/profile/export` (everything held about the caller: the
 * profile and, for a user, the guests merged into them) and `DELETE /v1/profile` (a guest deletes
 * itself; a user's profile and merge records are erased).
 */
export function dataRightsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { guestmode } = ctx;

  app.get('/v1/profile/export', async (request, reply) => {
    const caller = await requireCaller(guestmode, request, reply);
    reply.type(JSON_TYPE);
    if (caller.kind === 'guest') {
      const attributes = await guestmode.getAttributes({ kind: 'guest', id: caller.id });
      return JSON.stringify({ kind: 'guest', id: caller.id, attributes, merges: [] });
    }
    const { attributes, merges } = await guestmode.exportUser(caller.id);
    return JSON.stringify({ kind: 'user', id: caller.id, attributes, merges });
  });

  app.delete('/v1/profile', async (request, reply) => {
    const caller = await requireCaller(guestmode, request, reply);
    if (caller.kind === 'guest') {
      await guestmode.deleteGuest(guestCredential(request)!.token);
      if (caller.via === 'cookie') clearGuestCookie(request, reply);
    } else {
      await guestmode.deleteUser(caller.id);
    }
    reply.code(204);
    return reply.send();
  });
}
