// The confirm page (`confirmPath: '/merge'`): before/after of the merge the user decides on.
import { findBook } from '@guestmode/example-bookstore-next/books';
import { redirect } from 'next/navigation';
import { bookstore } from '../../lib/bookstore';
import { Layout } from '../../lib/ui';

export const dynamic = 'force-dynamic';

function describe(value: unknown): string {
  if (value === undefined) return '—';
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        const entry = item as { id?: string; quantity?: number };
        const name = findBook(entry.id)?.title ?? String(entry.id);
        return typeof entry.quantity === 'number' ? `${name} × ${entry.quantity}` : name;
      })
      .join(', ');
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export default async function Merge() {
  const pending = await bookstore().getPendingMerge();
  if (!pending) redirect('/');
  const { preview } = pending;
  const names = Object.keys(preview.before.guest);
  return (
    <Layout theme="light">
      <div className="detail">
        <h1 style={{ marginTop: 0 }}>Merge your guest data?</h1>
        <p>
          {pending.reason === 'unbound'
            ? 'This browser holds guest data that was not there when you started signing in. Merge it only if it is yours.'
            : 'Your account already has some of this data. Here is what merging would do.'}
        </p>
        <table>
          <thead>
            <tr>
              <th />
              <th>Your account now</th>
              <th>This browser</th>
              <th>After merging</th>
            </tr>
          </thead>
          <tbody>
            {names.map((name) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{describe(preview.before.user[name])}</td>
                <td>{describe(preview.before.guest[name])}</td>
                <td>{describe(preview.after[name])}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <form method="post" action={pending.action} className="actions">
          <input type="hidden" name="csrf" value={pending.csrfToken} />
          <button type="submit" name="decision" value="merge">
            Merge
          </button>
          <button type="submit" className="ghost" name="decision" value="discard">
            Discard
          </button>
        </form>
      </div>
    </Layout>
  );
}
