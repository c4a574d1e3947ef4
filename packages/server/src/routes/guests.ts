import { GuestmodeError } from '@guestmode/core';
import type { FastifyInstance } from 'fastify';
import { assertBrowserSameOrigin, readGuestCookie, setGuestCookie } from '../auth.js';
import { ErrorSchema, GuestCreatedSchema } from '../openapi/schemas.js';
import type { JsonBody, RouteContext } from './context.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `POST /v1/guests`: an explicit guest, optionally with its first attributes. A browser that
 * already holds a working guest cookie gets that guest back (200) rather than a replacement, so
 * no page can throw away a visitor's guest by asking for a new one.
 */
export function guestRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post(
    '/v1/guests',
    {
      schema: {
        response: { 200: GuestCreatedSchema, 201: GuestCreatedSchema, '4xx': ErrorSchema },
      },
    },
    async (request, reply) => {
      assertBrowserSameOrigin(request, ctx.publicOrigin);
      let attributes: Record<string, unknown> = {};
      if (request.body !== undefined) {
        const body = (request.body as JsonBody).value;
        if (!isPlainObject(body) || Object.keys(body).some((k) => k !== 'attributes')) {
          throw new GuestmodeError('invalid_request', 'The body must be {"attributes": {...}}.');
        }
        if (body.attributes !== undefined) {
          if (!isPlainObject(body.attributes)) {
            throw new GuestmodeError('invalid_request', '"attributes" must be a JSON object.');
          }
          attributes = body.attributes;
        }
      }
      const cookie = request.headers.authorization ? undefined : readGuestCookie(request);
      if (cookie !== undefined) {
        try {
          const { guest } = await ctx.guestmode.authenticateGuest(cookie);
          setGuestCookie(request, reply, cookie, guest.expiresAt);
          return { guestId: guest.id, token: cookie, expiresAt: guest.expiresAt.toISOString() };
        } catch (error) {
          // A dead cookie (unknown, expired, merged) is replaced; anything else is an answer.
          if (!(error instanceof GuestmodeError && error.status === 401)) throw error;
        }
      }
      await ctx.limiter?.take(ctx.clientKey(request));
      const { guest, token } = await ctx.guestmode.createGuest(attributes);
      setGuestCookie(request, reply, token, guest.expiresAt);
      reply.code(201);
      return { guestId: guest.id, token, expiresAt: guest.expiresAt.toISOString() };
    },
  );
}
