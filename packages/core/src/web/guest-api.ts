/**
 * The guest API a browser hook talks to (`GET profile`, `PUT`/`DELETE attributes/<name>`),
 * without a web framework: the adapter passes the route's rest path, the method and how to get
 * the request's guest and JSON body, and sends back the profile this answers.
 */
import { GuestmodeError } from '../errors.js';
import type { GuestAccessor, GuestDataExport, GuestProfileView } from './guest.js';

/** One request to the guest API. */
export interface GuestApiRequest {
  /** The path below the API's mount point, e.g. `profile` or `attributes/cart`. */
  readonly path: string;
  readonly method: string;
  /** From `requestSite`: writes are refused unless `same-origin`. */
  readonly site: 'same-origin' | 'cross-site';
  guest(): Promise<GuestAccessor & { profile(): Promise<GuestProfileView> }>;
  /** The request's JSON value (a PUT's new attribute value). */
  json(): Promise<unknown>;
}

function allow(method: string, methods: string): void {
  if (methods.split(',').includes(method === 'HEAD' ? 'GET' : method)) return;
  throw new GuestmodeError('method_not_allowed', `Use ${methods}.`, {
    headers: { allow: methods },
  });
}

/**
 * Answers one guest API request with the profile after it (`GET export`: the data export);
 * refusals are thrown. `DELETE profile` deletes the guest, or erases the signed-in user.
 */
export async function handleGuestApi(
  request: GuestApiRequest,
): Promise<GuestProfileView | GuestDataExport> {
  const { path, method } = request;
  if (path === 'export') {
    allow(method, 'GET');
    return (await request.guest()).exportData();
  }
  if (path === 'profile') {
    allow(method, 'GET,DELETE');
    if (method === 'DELETE') {
      if (request.site !== 'same-origin') {
        throw new GuestmodeError('cross_site_request', 'Requests from other sites are refused.');
      }
      await (await request.guest()).erase();
    }
  } else if (path.startsWith('attributes/')) {
    allow(method, 'PUT,DELETE');
    if (request.site !== 'same-origin') {
      throw new GuestmodeError('cross_site_request', 'Requests from other sites are refused.');
    }
    let name: string;
    try {
      name = decodeURIComponent(path.slice('attributes/'.length));
    } catch {
      throw new GuestmodeError('invalid_request', 'Malformed attribute name.');
    }
    const guest = await request.guest();
    if (method === 'PUT') await guest.set(name, await request.json());
    else await guest.delete(name);
  } else {
    throw new GuestmodeError('not_found', 'No such guest route.');
  }
  return (await request.guest()).profile();
}
