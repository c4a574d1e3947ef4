import { GuestmodeError } from '@guestmode/core';
import type { FastifyInstance } from 'fastify';
import { setGuestCookie } from '../auth.js';
import { ErrorSchema, GuestCreatedSchema } from '../openapi.js';
import type { JsonBody, RouteContext } from './context.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `POST /v1/guests`: an explicit guest, optionally with its first attributes. */
export function guestRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post(
    '/v1/guests',
    { schema: { response: { 201: GuestCreatedSchema, '4xx': ErrorSchema } } },
    async (request, reply) => {
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
      ctx.limiter?.take(request.ip);
      const { guest, token } = await ctx.guestmode.createGuest(attributes);
      setGuestCookie(request, reply, token, guest.expiresAt);
      reply.code(201);
      return { guestId: guest.id, token, expiresAt: guest.expiresAt.toISOString() };
    },
  );
}
