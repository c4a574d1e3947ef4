// The merge workload behind the exactly-once, crash and outage suites: many guests, many users,
// concurrent guest writes, reads, merges (often of the same guest into different users at once),
// previews and user writes, every answer recorded as acknowledged, refused or unknown. `verify()`
// then reads everything back over HTTP and checks the invariants:
// - an active guest holds its cart and every acknowledged write, and no refused one;
// - a merged guest was merged into exactly one user, one that asked, and the only one whose
//   merge was acknowledged; every write it acknowledged is in that user's profile;
// - unknown operations (the connection died) are all or nothing;
// - cart quantities are conserved, per book: users' carts = users' first carts + carts of the
//   guests merged into them, and active guests keep theirs.
// Guest writes use a fresh attribute name per operation (`cart:<n>`), so writes commute and
// every acknowledged write has exactly one place it must be found.
import type { TestIssuer } from '@guestmode/testkit';
import { type Answer, assert, bearer, call, pool, rng } from './lib.js';

type Line = { id: string; quantity: number };
type Outcome = 'acked' | 'refused' | 'unknown';

interface GuestRecord {
  readonly index: number;
  id: string;
  token: string;
  cart: Line[];
  /** `cart:<n>` → value and what the service answered. */
  readonly writes: Map<string, { value: Line[]; outcome: Outcome }>;
  readonly mergeAcked: Set<string>;
  readonly mergeTried: Set<string>;
}

interface UserRecord {
  readonly id: string;
  token: string;
  cart: Line[];
  readonly writes: Map<string, { value: number; outcome: Outcome }>;
}

export const WORKLOAD_RULES: Record<string, 'sum-by-key' | 'user-wins'> = {
  cart: 'sum-by-key',
  'cart:*': 'sum-by-key',
  'u:*': 'user-wins',
};

const BOOKS = ['book-1', 'book-2', 'book-3', 'book-4', 'book-5'];

export interface WorkloadOptions {
  readonly guests: number;
  readonly users: number;
  readonly seed: number;
  readonly issuer: TestIssuer;
  /** Allow 503s and network failures (fault suites); otherwise they fail the run. */
  readonly faults?: boolean;
}

export interface RunFigures {
  operations: number;
  byKind: Record<string, number>;
  byAnswer: Record<string, number>;
}

const isNetworkError = (error: unknown) =>
  error instanceof Error && (error.name === 'TypeError' || error.name === 'TimeoutError');

export class MergeWorkload {
  readonly guests: GuestRecord[] = [];
  readonly users: UserRecord[] = [];
  readonly #random: () => number;
  readonly #options: WorkloadOptions;
  /** Answers that are not allowed in this run (e.g. a 500), as `kind status code`. */
  readonly unexpected: string[] = [];
  readonly figures: RunFigures = { operations: 0, byKind: {}, byAnswer: {} };
  acked = 0;

  constructor(options: WorkloadOptions) {
    this.#options = options;
    this.#random = rng(options.seed);
  }

  #int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  #cart(): Line[] {
    const lines = new Map<string, number>();
    const count = 1 + this.#int(3);
    for (let i = 0; i < count; i++) {
      const id = BOOKS[this.#int(BOOKS.length)]!;
      lines.set(id, (lines.get(id) ?? 0) + 1 + this.#int(5));
    }
    return [...lines].map(([id, quantity]) => ({ id, quantity }));
  }

  /** Users with a first cart, then guests with a cart, created over HTTP. */
  async setup(base: string, concurrency = 50): Promise<void> {
    for (let i = 0; i < this.#options.users; i++) {
      const id = `user_hard_${this.#options.seed}_${i}`;
      this.users.push({
        id,
        token: await this.#options.issuer.accessToken({ sub: id, expiresIn: 7200 }),
        cart: this.#cart(),
        writes: new Map(),
      });
    }
    for (let i = 0; i < this.#options.guests; i++) {
      this.guests.push({
        index: i,
        id: '',
        token: '',
        cart: this.#cart(),
        writes: new Map(),
        mergeAcked: new Set(),
        mergeTried: new Set(),
      });
    }
    await pool(this.users.length, concurrency, async (i) => {
      const user = this.users[i]!;
      const res = await call(base, 'PUT', '/v1/profile/attributes/cart', {
        headers: bearer(user.token),
        json: user.cart,
      });
      assert.equal(res.status, 200, res.text);
    });
    await pool(this.guests.length, concurrency, async (i) => {
      const guest = this.guests[i]!;
      const res = await call<{ guestId: string; token: string }>(base, 'POST', '/v1/guests', {
        json: { attributes: { cart: guest.cart } },
      });
      assert.equal(res.status, 201, res.text);
      guest.id = res.body.guestId;
      guest.token = res.body.token;
    });
  }

  #count(kind: string, answer: string) {
    this.figures.operations++;
    this.figures.byKind[kind] = (this.figures.byKind[kind] ?? 0) + 1;
    const key = `${kind} ${answer}`;
    this.figures.byAnswer[key] = (this.figures.byAnswer[key] ?? 0) + 1;
  }

  /** Classifies an answer: the expected codes map to an outcome, anything else is unexpected. */
  #classify(kind: string, res: Answer | Error, ok: number[], refusals: string[]): Outcome {
    if (res instanceof Error) {
      this.#count(kind, 'network-error');
      if (!this.#options.faults) {
        const cause = (res as Error & { cause?: { code?: string; message?: string } }).cause;
        this.unexpected.push(
          `${kind} network ${res.message} ${cause?.code ?? cause?.message ?? ''}`,
        );
      }
      return 'unknown';
    }
    const code = (res.body as { error?: { code?: string } })?.error?.code;
    this.#count(kind, code ? `${res.status} ${code}` : String(res.status));
    if (ok.includes(res.status)) return 'acked';
    if (code && refusals.includes(code)) return 'refused';
    // A 503 in the middle of a fault is "maybe": the commit may have happened before the
    // connection to the database was cut.
    if (this.#options.faults && res.status === 503) return 'unknown';
    this.unexpected.push(`${kind} ${res.status} ${res.text.slice(0, 200)}`);
    return 'unknown';
  }

  async #send(
    method: string,
    base: string,
    path: string,
    headers: Record<string, string>,
    json?: unknown,
  ) {
    try {
      return await call(base, method, path, { headers, ...(json === undefined ? {} : { json }) });
    } catch (error) {
      if (isNetworkError(error)) return error as Error;
      throw error;
    }
  }

  /** One random operation; `n` makes attribute names unique. */
  async operation(base: string, n: number): Promise<void> {
    const roll = this.#random();
    const guest = this.guests[this.#int(this.guests.length)]!;
    const user = this.users[this.#int(this.users.length)]!;
    if (roll < 0.35) {
      const name = `cart:${n}`;
      const value = this.#cart();
      guest.writes.set(name, { value, outcome: 'unknown' });
      const res = await this.#send(
        'PUT',
        base,
        `/v1/profile/attributes/${name}`,
        bearer(guest.token),
        value,
      );
      const outcome = this.#classify('guest-write', res, [200], ['guest_merged']);
      guest.writes.set(name, { value, outcome });
      if (outcome === 'acked') this.acked++;
    } else if (roll < 0.5) {
      const before = [...guest.writes].filter(([, w]) => w.outcome === 'acked');
      const res = await this.#send('GET', base, '/v1/profile', bearer(guest.token));
      const outcome = this.#classify('guest-read', res, [200], ['guest_merged']);
      if (outcome === 'acked') {
        const attributes = (res as Answer<{ attributes: Record<string, unknown> }>).body.attributes;
        for (const [name, write] of before) {
          assert.deepEqual(attributes[name], write.value, `read lost acknowledged ${name}`);
        }
      }
    } else if (roll < 0.75) {
      guest.mergeTried.add(user.id);
      const res = await this.#send('POST', base, '/v1/merge', {
        ...bearer(user.token),
        'guest-token': guest.token,
      });
      const outcome = this.#classify('merge', res, [200], ['guest_already_merged']);
      if (outcome === 'acked') {
        assert.equal((res as Answer<{ userId: string }>).body.userId, user.id);
        guest.mergeAcked.add(user.id);
        this.acked++;
      }
    } else if (roll < 0.85) {
      const res = await this.#send('POST', base, '/v1/merge/preview', {
        ...bearer(user.token),
        'guest-token': guest.token,
      });
      this.#classify('preview', res, [200], ['guest_already_merged']);
    } else if (roll < 0.95) {
      const name = `u:${n}`;
      user.writes.set(name, { value: n, outcome: 'unknown' });
      const res = await this.#send(
        'PUT',
        base,
        `/v1/profile/attributes/${name}`,
        bearer(user.token),
        n,
      );
      const outcome = this.#classify('user-write', res, [200], []);
      user.writes.set(name, { value: n, outcome });
      if (outcome === 'acked') this.acked++;
    } else {
      this.#classify(
        'user-read',
        await this.#send('GET', base, '/v1/profile', bearer(user.token)),
        [200],
        [],
      );
    }
  }

  /** Runs `count` operations, `concurrency` at a time, until done or `stop()` says so. */
  async run(
    base: string | (() => string),
    count: number,
    concurrency: number,
    stop?: () => boolean,
  ) {
    const at = typeof base === 'string' ? () => base : base;
    let n = this.figures.operations;
    await pool(count, concurrency, () => this.operation(at(), n++), stop);
  }

  /** Reads everything back and checks the invariants; returns the figures for the report. */
  async verify(base: string): Promise<Record<string, number>> {
    const mergedInto = new Map<GuestRecord, UserRecord>();
    let active = 0;
    let unknownWritesLanded = 0;
    let unknownWritesAbsent = 0;
    // Guests first: active (with its data) or merged.
    await pool(this.guests.length, 20, async (i) => {
      const guest = this.guests[i]!;
      const res = await call<{ attributes: Record<string, unknown> }>(base, 'GET', '/v1/profile', {
        headers: bearer(guest.token),
      });
      if (res.status === 200) {
        active++;
        assert.equal(guest.mergeAcked.size, 0, `guest ${guest.id}: merge acknowledged but active`);
        const attributes = res.body.attributes;
        assert.deepEqual(attributes.cart, guest.cart, `guest ${guest.id}: cart changed`);
        const expected = new Set(['cart']);
        for (const [name, write] of guest.writes) {
          if (write.outcome === 'acked') {
            assert.deepEqual(attributes[name], write.value, `guest ${guest.id}: lost ${name}`);
          } else if (write.outcome === 'refused') {
            assert.equal(attributes[name], undefined, `guest ${guest.id}: refused ${name} landed`);
          } else if (attributes[name] !== undefined) {
            assert.deepEqual(attributes[name], write.value, `guest ${guest.id}: ${name} torn`);
            unknownWritesLanded++;
          } else {
            unknownWritesAbsent++;
          }
          expected.add(name);
        }
        for (const name of Object.keys(attributes)) {
          assert.ok(expected.has(name), `guest ${guest.id}: unexpected attribute ${name}`);
        }
        return;
      }
      assert.equal(res.status, 401, res.text);
      assert.equal((res.body as unknown as { error: { code: string } }).error.code, 'guest_merged');
      // Which user? A preview by the right user answers the stored result, every other 409.
      // Asked: every user who tried to merge it, and two who never did (a merge into a user
      // who did not ask would also leave foreign attributes in that user's profile, checked
      // below for every user).
      const owners: UserRecord[] = [];
      const strangers = this.users.filter((u) => !guest.mergeTried.has(u.id)).slice(0, 2);
      const asked = [...this.users.filter((u) => guest.mergeTried.has(u.id)), ...strangers];
      for (const user of asked) {
        const preview = await call<{ alreadyMerged?: boolean; error?: { code: string } }>(
          base,
          'POST',
          '/v1/merge/preview',
          { headers: { ...bearer(user.token), 'guest-token': guest.token } },
        );
        if (preview.status === 200) {
          assert.equal(preview.body.alreadyMerged, true, preview.text);
          owners.push(user);
        } else {
          assert.equal(preview.status, 409, preview.text);
          assert.equal(preview.body.error?.code, 'guest_already_merged');
        }
      }
      assert.equal(owners.length, 1, `guest ${guest.id} merged into ${owners.length} users`);
      const owner = owners[0]!;
      assert.ok(
        guest.mergeTried.has(owner.id),
        `guest ${guest.id} merged into a user who never asked`,
      );
      for (const acked of guest.mergeAcked) {
        assert.equal(
          acked,
          owner.id,
          `guest ${guest.id}: acknowledged for ${acked}, merged into ${owner.id}`,
        );
      }
      mergedInto.set(guest, owner);
    });

    // Users: first cart + merged guests' carts, every acknowledged write of theirs and of their
    // guests, nothing refused, nothing from guests merged elsewhere.
    let userQuantity = 0;
    let initialQuantity = 0;
    let activeGuestQuantity = 0;
    const sum = (lines: Line[]) => lines.reduce((total, line) => total + line.quantity, 0);
    for (const guest of this.guests) {
      initialQuantity += sum(guest.cart);
      if (!mergedInto.has(guest)) activeGuestQuantity += sum(guest.cart);
    }
    for (const user of this.users) {
      initialQuantity += sum(user.cart);
      const res = await call<{ attributes: Record<string, unknown> }>(base, 'GET', '/v1/profile', {
        headers: bearer(user.token),
      });
      assert.equal(res.status, 200, res.text);
      const attributes = res.body.attributes;
      const expectedCart = new Map<string, number>();
      const add = (lines: Line[]) => {
        for (const line of lines) {
          expectedCart.set(line.id, (expectedCart.get(line.id) ?? 0) + line.quantity);
        }
      };
      add(user.cart);
      const allowed = new Set(['cart']);
      for (const [guest, owner] of mergedInto) {
        if (owner !== user) continue;
        add(guest.cart);
        for (const [name, write] of guest.writes) {
          allowed.add(name);
          if (write.outcome === 'acked') {
            assert.deepEqual(
              attributes[name],
              write.value,
              `user ${user.id}: lost guest's ${name}`,
            );
          } else if (write.outcome === 'refused') {
            assert.equal(attributes[name], undefined, `user ${user.id}: refused ${name} landed`);
          } else if (attributes[name] !== undefined) {
            assert.deepEqual(attributes[name], write.value);
            unknownWritesLanded++;
          } else {
            unknownWritesAbsent++;
          }
        }
      }
      for (const [name, write] of user.writes) {
        allowed.add(name);
        if (write.outcome === 'acked')
          assert.equal(attributes[name], write.value, `user lost ${name}`);
        else if (attributes[name] !== undefined) assert.equal(attributes[name], write.value);
      }
      for (const name of Object.keys(attributes)) {
        assert.ok(allowed.has(name), `user ${user.id}: attribute ${name} from elsewhere`);
      }
      const cart = (attributes.cart ?? []) as Line[];
      const actual = new Map(cart.map((line) => [line.id, line.quantity]));
      assert.equal(cart.length, actual.size, `user ${user.id}: duplicate cart lines`);
      assert.deepEqual(actual, expectedCart, `user ${user.id}: cart quantities not conserved`);
      userQuantity += sum(cart);
    }
    assert.equal(userQuantity + activeGuestQuantity, initialQuantity, 'total quantity conserved');
    assert.deepEqual(this.unexpected, [], 'only expected answers');
    return {
      guests: this.guests.length,
      users: this.users.length,
      operations: this.figures.operations,
      acknowledged: this.acked,
      activeGuests: active,
      mergedGuests: mergedInto.size,
      mergeRaces: this.guests.filter((g) => g.mergeTried.size > 1).length,
      unknownWritesLanded,
      unknownWritesAbsent,
      totalQuantity: initialQuantity,
    };
  }
}
