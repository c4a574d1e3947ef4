// The App Router Bookstore builds as the Pages Router one does, and also compiles that example's
// shared modules (setup, shop components, books) from source.
import { bookstoreNextConfig } from '@guestmode/example-bookstore-next/next-config';

export default bookstoreNextConfig({ transpile: ['@guestmode/example-bookstore-next'] });
