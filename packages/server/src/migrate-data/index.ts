import { createHash, type Hash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { isOptionError, optionError } from '@guestmode/core';
import { parseDatabase } from '../config-values.js';
import type { AttributeKey, CopyStore } from './stores.js';
import { openCopyStore } from './stores.js';

/** Rows per transaction on the target. */
const BATCH = 1000;

export const MIGRATE_DATA_HELP = `Usage: guestmode migrate-data --from <url> --to <url> [--resume | --force]

Copies guests, attributes, merge records and the funnel counters from one store to another
(sqlite:<path> or postgres://…), in transactions of ${BATCH} rows, in key order. Stop the servers
first: rows written during the copy may be missed. Ends by comparing counts and a checksum.
  --resume   the target holds an interrupted copy: continue after the last row it holds
  --force    the target holds other data: delete it, then copy`;

export interface MigrateDataIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export interface CopySummary {
  readonly guests: number;
  readonly attributes: number;
  readonly checksum: string;
}

/**
 * Copies every row of `from` into `to` in key order (continuing after the last key `to` holds),
 * then the counters, then checks both stores hold the same rows. Throws when they differ.
 */
export async function copyStore(
  from: CopyStore,
  to: CopyStore,
  progress: (line: string) => void = () => {},
): Promise<CopySummary> {
  let guests = 0;
  for (let after = await to.lastGuestId(); ; ) {
    const rows = await from.guestsAfter(after, BATCH);
    if (rows.length === 0) break;
    await to.insert(rows, []);
    guests += rows.length;
    after = rows[rows.length - 1]!.id;
    progress(`copied ${guests} guests`);
  }
  let attributes = 0;
  for (let after = await to.lastAttributeKey(); ; ) {
    const rows = await from.attributesAfter(after, BATCH);
    if (rows.length === 0) break;
    await to.insert([], rows);
    attributes += rows.length;
    const last = rows[rows.length - 1]!;
    after = [last.owner, last.name];
    progress(`copied ${attributes} attributes`);
  }
  await to.setCounters(await from.counters());
  const [source, target] = [await checksum(from), await checksum(to)];
  for (const key of ['guests', 'attributes', 'checksum'] as const) {
    if (source[key] !== target[key]) {
      throw new Error(
        `the target differs from the source after the copy (${key}: ${source[key]} against ${target[key]})`,
      );
    }
  }
  progress(`copied this run: ${guests} guests, ${attributes} attributes`);
  return source;
}

/** Counts and a SHA-256 over every row and counter, in key order. */
export async function checksum(store: CopyStore): Promise<CopySummary> {
  const hash = createHash('sha256');
  const line = (h: Hash, values: unknown[]) => h.update(`${JSON.stringify(values)}\n`);
  let guests = 0;
  for (let after: string | null = null; ; ) {
    const rows = await store.guestsAfter(after, BATCH);
    if (rows.length === 0) break;
    for (const g of rows) {
      line(hash, [
        g.id,
        g.secret_hash.toString('hex'),
        g.created_at,
        g.expires_at,
        g.merged_into,
        g.merged_at,
        g.merge_result,
      ]);
    }
    guests += rows.length;
    after = rows[rows.length - 1]!.id;
  }
  let attributes = 0;
  for (let after: AttributeKey | null = null; ; ) {
    const rows = await store.attributesAfter(after, BATCH);
    if (rows.length === 0) break;
    for (const a of rows) line(hash, [a.owner, a.name, a.value, a.size, a.updated_at]);
    attributes += rows.length;
    const last = rows[rows.length - 1]!;
    after = [last.owner, last.name];
  }
  const counters = [...(await store.counters())].sort(([a], [b]) => (a < b ? -1 : 1));
  line(hash, counters);
  return { guests, attributes, checksum: hash.digest('hex') };
}

/** `guestmode migrate-data`: returns the exit code (2 for usage, 1 for a failed copy). */
export async function migrateDataCommand(
  argv: readonly string[],
  io: MigrateDataIo,
): Promise<number> {
  let from: ReturnType<typeof parseDatabase>;
  let to: ReturnType<typeof parseDatabase>;
  let resume: boolean;
  let force: boolean;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        resume: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
    if (values.help) {
      io.out(MIGRATE_DATA_HELP);
      return 0;
    }
    if (values.from === undefined) throw optionError('--from', 'is required');
    if (values.to === undefined) throw optionError('--to', 'is required');
    if (values.resume && values.force) throw optionError('--force', 'cannot go with --resume');
    from = parseDatabase('--from', values.from);
    to = parseDatabase('--to', values.to);
    if (JSON.stringify(from) === JSON.stringify(to)) {
      throw optionError('--to', 'must name another store than --from');
    }
    resume = values.resume;
    force = values.force;
  } catch (error) {
    if (!isOptionError(error) && !(error instanceof TypeError)) throw error;
    io.err(`guestmode migrate-data: ${error.message}\n${MIGRATE_DATA_HELP}`);
    return 2;
  }
  const stores: CopyStore[] = [];
  try {
    const source = await openCopyStore(from);
    stores.push(source);
    const target = await openCopyStore(to);
    stores.push(target);
    const held = (await target.count('gm_guests')) + (await target.count('gm_attributes'));
    if (held > 0 && !resume && !force) {
      io.err(
        'guestmode migrate-data: the target already holds guests; pass --resume to continue an interrupted copy or --force to replace its data',
      );
      return 1;
    }
    if (force) await target.clear();
    const summary = await copyStore(source, target, (l) => io.out(`guestmode migrate-data: ${l}`));
    io.out(
      `guestmode migrate-data: verified ${summary.guests} guests and ${summary.attributes} attributes, checksum ${summary.checksum}`,
    );
    return 0;
  } catch (error) {
    // The message only: connection strings and row values stay out of the output.
    io.err(
      `guestmode migrate-data: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
    return 1;
  } finally {
    for (const store of stores) await store.close().catch(() => undefined);
  }
}
