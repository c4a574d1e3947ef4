import {
  ATTRIBUTE_NAME_RULE,
  GuestmodeError,
  isValidAttributeName,
  type Principal,
} from '@guestmode/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  type Caller,
  clearGuestCookie,
  guestCredential,
  identify,
  requireCaller,
  setGuestCookie,
} from '../auth.js';
import { JSON_TYPE, type JsonBody, type RouteContext } from './context.js';

interface NameParams {
  name: string;
}

function attributeName(request: FastifyRequest): string {
  const name = (request.params as NameParams).name;
  if (!isValidAttributeName(name)) {
    throw new GuestmodeError(
      'invalid_attribute_name',
      `Attribute names are ${ATTRIBUTE_NAME_RULE}.`,
    );
  }
  return name;
}

const principal = (caller: Caller): Principal => ({ kind: caller.kind, id: caller.id });

const notFound = (name: string) =>
  new GuestmodeError('attribute_not_found', `The profile has no attribute "${name}".`);

/**
 * `{"name":…,"value":…}` built around the stored JSON text: values go out byte for byte as they
 * came in, without a parse and a stringify per request.
 */
const attributeJson = (name: string, json: string) =>
  `{"name":${JSON.stringify(name)},"value":${json}}`;

/**
 * The anonymous (or identified) profile: `GET /v1/profile` and
 * `GET|PUT|DELETE /v1/profile/attributes/{name}`.
 */
export function profileRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { guestmode } = ctx;

  app.get('/v1/profile', async (request, reply) => {
    const caller = await requireCaller(guestmode, request, reply);
    let attributes: string;
    if (caller.kind === 'guest') {
      // The guest's attributes came with its credential check: one database read in all.
      attributes = caller.session.attributes
        .map((a) => `${JSON.stringify(a.name)}:${a.value}`)
        .join(',');
      attributes = `{${attributes}}`;
    } else {
      attributes = JSON.stringify(await guestmode.getAttributes(principal(caller)));
    }
    reply.type(JSON_TYPE);
    return `{"kind":"${caller.kind}","id":${JSON.stringify(caller.id)},"attributes":${attributes}}`;
  });

  app.get('/v1/profile/attributes/:name', async (request, reply) => {
    const name = attributeName(request);
    const caller = await requireCaller(guestmode, request, reply);
    let json: string | undefined;
    if (caller.kind === 'guest') {
      json = caller.session.attributes.find((a) => a.name === name)?.value;
    } else {
      const value = await guestmode.getAttribute(principal(caller), name);
      json = value === undefined ? undefined : JSON.stringify(value);
    }
    if (json === undefined) throw notFound(name);
    reply.type(JSON_TYPE);
    return attributeJson(name, json);
  });

  app.put('/v1/profile/attributes/:name', async (request, reply) => {
    const name = attributeName(request);
    const body = request.body as JsonBody | undefined;
    if (body === undefined) {
      throw new GuestmodeError('invalid_request', 'The body must be the JSON value to store.');
    }
    reply.type(JSON_TYPE);
    // A guest writes in one step: credential, state, limits, expiry slide and the write are one
    // transaction (no separate authentication read).
    const guest = guestCredential(request);
    if (guest !== undefined) {
      try {
        const { guest: after, fresh } = await guestmode.setGuestAttribute(guest.token, name, body);
        if (guest.via === 'cookie' && fresh) {
          setGuestCookie(request, reply, guest.token, after.expiresAt);
        }
      } catch (error) {
        if (guest.via === 'cookie' && error instanceof GuestmodeError && error.status === 401) {
          clearGuestCookie(request, reply);
        }
        throw error;
      }
      return attributeJson(name, body.text);
    }
    const caller = await identify(guestmode, request, reply);
    if (caller === null) {
      // The lazy guest: the first write creates it, with the value, in one transaction.
      await ctx.limiter?.take(ctx.clientKey(request));
      const { guest, token } = await guestmode.createGuest({ [name]: body });
      setGuestCookie(request, reply, token, guest.expiresAt);
      reply.code(201);
      return `{"guestId":${JSON.stringify(guest.id)},"token":"${token}","expiresAt":"${guest.expiresAt.toISOString()}","name":${JSON.stringify(name)},"value":${body.text}}`;
    }
    await guestmode.setAttribute(principal(caller), name, body);
    return attributeJson(name, body.text);
  });

  app.delete('/v1/profile/attributes/:name', async (request, reply) => {
    const name = attributeName(request);
    const caller = await requireCaller(guestmode, request, reply);
    if (!(await guestmode.deleteAttribute(principal(caller), name))) throw notFound(name);
    reply.code(204);
    return reply.send();
  });
}
