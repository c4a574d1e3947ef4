// @logto/connector-amazon 0.3.5 ships JavaScript without type declarations; it has the same
// connector-kit shape as the OAuth connector.
declare module '@logto/connector-amazon' {
  import type { CreateConnector, SocialConnector } from '@logto/connector-kit';

  const createAmazonConnector: CreateConnector<SocialConnector>;
  export default createAmazonConnector;
}
