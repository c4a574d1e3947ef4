import { GuestmodeError } from '@guestmode/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  assertSameOrigin,
  bearerToken,
  clearGuestCookie,
  readGuestCookie,
  verifyUser,
} from '../auth.js';
import { ErrorSchema, MergePreviewSchema, MergeResultSchema } from '../openapi/schemas.js';
import type { RouteContext } from './context.js';

interface MergeInputs {
  readonly userId: string;
  readonly guestToken: string;
  readonly fromCookie: boolean;
}

/**
 * Both credentials of a merge: the user from a verified access token only, never from
 * the body; the guest from `Guest-Token`, or from the cookie under the same-origin rule.
 */
async function mergeInputs(ctx: RouteContext, request: FastifyRequest): Promise<MergeInputs> {
  const accessToken = bearerToken(request);
  if (accessToken === undefined) {
    throw new GuestmodeError(
      'invalid_access_token',
      "Send the user's access token as Authorization: Bearer.",
    );
  }
  const userId = await verifyUser(ctx.guestmode, accessToken);
  const header = request.headers['guest-token'];
  if (typeof header === 'string' && header !== '') {
    return { userId, guestToken: header, fromCookie: false };
  }
  const cookie = readGuestCookie(request);
  if (cookie === undefined) {
    throw new GuestmodeError(
      'invalid_guest_credential',
      'Send the guest token in the Guest-Token header, or the guest cookie.',
    );
  }
  assertSameOrigin(request);
  return { userId, guestToken: cookie, fromCookie: true };
}

/** A cookie that was merged (or is otherwise dead) is cleared so the browser stops sending it. */
function clearDeadCookie(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  if (
    error instanceof GuestmodeError &&
    error.status === 401 &&
    error.code !== 'invalid_access_token'
  ) {
    clearGuestCookie(request, reply);
  }
}

const sendAsIs = (payload: unknown) => payload as string;

/**
 * `POST /v1/merge` and `POST /v1/merge/preview`: the exactly-once merge and its dry run, both
 * sending the stored result as it is.
 */
export function mergeRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { guestmode, metrics } = ctx;

  app.post(
    '/v1/merge',
    { schema: { response: { 200: MergeResultSchema, '4xx': ErrorSchema } } },
    async (request, reply) => {
      const input = await mergeInputs(ctx, request);
      const started = performance.now();
      try {
        const { resultJson, replayed } = await guestmode.merge(input);
        if (replayed) reply.header('idempotent-replayed', 'true');
        else metrics.observeMerge(performance.now() - started);
        if (input.fromCookie) clearGuestCookie(request, reply);
        // The stored result goes out as stored: a retry gets the very same bytes.
        reply.type('application/json; charset=utf-8').serializer(sendAsIs);
        return resultJson;
      } catch (error) {
        if (input.fromCookie) clearDeadCookie(request, reply, error);
        throw error;
      }
    },
  );

  app.post(
    '/v1/merge/preview',
    { schema: { response: { 200: MergePreviewSchema, '4xx': ErrorSchema } } },
    async (request) => {
      const input = await mergeInputs(ctx, request);
      return guestmode.previewMerge(input);
    },
  );
}
