// The Pages Router Bookstore's Next configuration: see next-config.mjs.
import { bookstoreNextConfig } from './next-config.mjs';

export default bookstoreNextConfig();
