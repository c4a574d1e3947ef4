import type { PendingMerge } from '@guestmode/next';
import type { GetServerSideProps } from 'next';
import { bookstore } from '../lib/bookstore';
import { Layout, MergeConfirm } from '../lib/shop';

interface Props {
  readonly pending: PendingMerge;
}

/** The confirm page (`confirmPath: '/merge'`): before/after of the merge the user decides on. */
export const getServerSideProps: GetServerSideProps<Props> = async ({ req, res }) => {
  const pending = await bookstore().guestmode.getPendingMerge(req, res);
  if (!pending) return { redirect: { destination: '/', permanent: false } };
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Vary', 'Cookie');
  return { props: { pending } };
};

export default function Merge({ pending }: Props) {
  return (
    <Layout theme="light" router="Pages Router">
      <MergeConfirm pending={pending} />
    </Layout>
  );
}
