/** Shapes shared by the server helpers and the browser hook (no Node imports here). */

/** Who is browsing: a signed-in user, a guest with a valid cookie, or nobody yet. */
export type GuestKind = 'user' | 'guest' | 'none';

/**
 * What `GET <apiPath>/profile` answers and `useGuest()` holds: the attributes of the visitor's
 * guest, or of their account once they are signed in. JSON-serialisable (usable as
 * `getServerSideProps` props and as SWR fallback data).
 */
export interface GuestProfile {
  readonly kind: GuestKind;
  /** The guest id; `null` before the first write and while a user is signed in. */
  readonly id: string | null;
  /** The signed-in user's `sub`, or `null`. */
  readonly userId: string | null;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** The error body of every refusal of the guest API: `{ "error": { "code", "message" } }`. */
export interface GuestApiErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}
