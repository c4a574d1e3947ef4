import type { GuestStats } from '../types.js';
import type { Statements } from './schema.js';

/** The funnel: counters moved with the rows, plus the expired guests not yet purged. */
export function readStats(s: Statements, now: number): GuestStats {
  const counters = Object.fromEntries(
    (s.counters.all() as { name: string; value: number }[]).map((r) => [r.name, r.value]),
  ) as Record<string, number | undefined>;
  const { n: expiredUnpurged } = s.expiredUnpurged.get(now) as { n: number };
  const created = counters.created ?? 0;
  const merged = counters.merged ?? 0;
  const expired = (counters.purged_expired ?? 0) + expiredUnpurged;
  return {
    active: created - merged - expired - (counters.deleted ?? 0),
    merged,
    expired,
    created,
  };
}
