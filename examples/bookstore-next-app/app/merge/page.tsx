// The confirm page (`confirmPath: '/merge'`): before/after of the merge the user decides on.
import { Layout, MergeConfirm } from '@guestmode/example-bookstore-next/shop';
import { redirect } from 'next/navigation';
import { bookstore } from '../../lib/bookstore';

export const dynamic = 'force-dynamic';

export default async function Merge() {
  const pending = await bookstore().getPendingMerge();
  if (!pending) redirect('/');
  return (
    <Layout theme="light" router="App Router">
      <MergeConfirm pending={pending} />
    </Layout>
  );
}
