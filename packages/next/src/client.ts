'use client';

/**
 * `@guestmode/next/client`: the browser side. `useGuest()` reads the visitor's guest (or, once
 * signed in, their account) profile with SWR and updates attributes optimistically.
 *
 * @packageDocumentation
 */
import { useCallback, useMemo } from 'react';
import useSWR, { type KeyedMutator, useSWRConfig } from 'swr';
import type { GuestApiErrorBody, GuestKind, GuestProfile } from './types.js';

export type { GuestApiErrorBody, GuestKind, GuestProfile } from './types.js';

/** A refusal of the guest API, with the server's stable `code`. */
export class GuestApiError extends Error {
  override name = 'GuestApiError';
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface UseGuestOptions {
  /** Where `handleGuestRoutes()` is mounted. Default `/api/guestmode`. */
  readonly apiPath?: string;
  /** Profile to show before the first fetch, e.g. from `getServerSideProps` (`guest.profile()`). */
  readonly fallbackData?: GuestProfile;
}

/** A new value, or a function of the current one (applied to the optimistic state). */
export type AttributeUpdate<T> = T | ((current: T | undefined) => T);

export interface UseGuestResult {
  /** The profile, or `undefined` while the first fetch is in flight. */
  readonly profile: GuestProfile | undefined;
  readonly kind: GuestKind | undefined;
  /** The attributes (empty until loaded). */
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly isLoading: boolean;
  /** The last fetch or update error (an update error has already been rolled back). */
  readonly error: unknown;
  /**
   * Writes an attribute: the UI shows the new value at once, the server stores it (the first
   * write of a visitor creates the guest and its cookie), and an error restores the previous
   * value and rejects.
   */
  set<T = unknown>(name: string, update: AttributeUpdate<T>): Promise<GuestProfile>;
  /** Deletes an attribute, optimistically as well. */
  remove(name: string): Promise<GuestProfile>;
  /** SWR's `mutate` for this profile (revalidate with `mutate()`). */
  readonly mutate: KeyedMutator<GuestProfile>;
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});
const NOBODY: GuestProfile = { kind: 'none', id: null, userId: null, attributes: EMPTY };

async function request(url: string, init?: RequestInit): Promise<GuestProfile> {
  const res = await fetch(url, {
    credentials: 'same-origin',
    ...init,
    headers: { accept: 'application/json', ...init?.headers },
  });
  if (!res.ok) {
    let body: Partial<GuestApiErrorBody> | undefined;
    try {
      body = (await res.json()) as GuestApiErrorBody;
    } catch {
      body = undefined;
    }
    throw new GuestApiError(
      res.status,
      body?.error?.code ?? 'http_error',
      body?.error?.message ?? `HTTP ${res.status}`,
    );
  }
  return (await res.json()) as GuestProfile;
}

/**
 * Writes leave the browser one at a time, in the order they were made: with optimistic updates
 * computed from the state the user sees, a later write must not be overtaken by an earlier one.
 */
const queues = new Map<string, Promise<unknown>>();
function enqueue<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const settled = run.catch(() => {});
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return run;
}

/**
 * The visitor's guest profile (or their account's once signed in), with optimistic writes.
 *
 * @example
 * ```tsx
 * const { attributes, set } = useGuest();
 * const cart = (attributes.cart ?? []) as { id: string; quantity: number }[];
 * <button onClick={() => set('cart', (c: typeof cart = []) => [...c, { id, quantity: 1 }])}>
 *   Add to cart
 * </button>
 * ```
 */
export function useGuest(options: UseGuestOptions = {}): UseGuestResult {
  const apiPath = (options.apiPath ?? '/api/guestmode').replace(/\/+$/, '');
  const key = `${apiPath}/profile`;
  const { cache } = useSWRConfig();
  const { data, error, isLoading, mutate } = useSWR<GuestProfile>(
    key,
    (url: string) => request(url),
    options.fallbackData ? { fallbackData: options.fallbackData } : undefined,
  );

  const write = useCallback(
    (
      name: string,
      optimistic: (current: GuestProfile | undefined) => GuestProfile,
      init: RequestInit,
    ) =>
      mutate(
        enqueue(key, () => request(`${apiPath}/attributes/${encodeURIComponent(name)}`, init)),
        {
          optimisticData: (current) => optimistic(current),
          rollbackOnError: true,
          populateCache: true,
          revalidate: false,
        },
      ) as Promise<GuestProfile>,
    [apiPath, key, mutate],
  );

  const set = useCallback(
    <T>(name: string, update: AttributeUpdate<T>) => {
      // From the cache, not this render's `data`: two clicks between renders must compose.
      const current = (cache.get(key)?.data as GuestProfile | undefined) ?? data;
      const base = current ?? NOBODY;
      const value =
        typeof update === 'function'
          ? (update as (c: T | undefined) => T)(base.attributes[name] as T | undefined)
          : update;
      const next: GuestProfile = {
        ...base,
        kind: base.kind === 'none' ? 'guest' : base.kind,
        attributes: { ...base.attributes, [name]: value },
      };
      // The request sends exactly the value the optimistic state shows.
      return write(name, () => next, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(value),
      });
    },
    [cache, key, data, write],
  );

  const remove = useCallback(
    (name: string) =>
      write(
        name,
        (current) => {
          const base = current ?? NOBODY;
          const { [name]: _removed, ...attributes } = base.attributes;
          return { ...base, attributes };
        },
        { method: 'DELETE' },
      ),
    [write],
  );

  return useMemo(
    () => ({
      profile: data,
      kind: data?.kind,
      attributes: data?.attributes ?? EMPTY,
      isLoading,
      error,
      set,
      remove,
      mutate,
    }),
    [data, error, isLoading, set, remove, mutate],
  );
}
