// As in the Pages Router Bookstore: the workspace packages are compiled from their TypeScript
// source (the `@guestmode/source` condition), which webpack can map from `.js` imports to `.ts`
// files (`resolve.extensionAlias`) and Turbopack cannot yet, hence `next build --webpack`.

/** @type {import('next').NextConfig} */
const config = {
  // Tests build into their own folder so they never clobber `npm run start:next-app`'s build.
  distDir: process.env.BOOKSTORE_NEXT_DIST_DIR || '.next',
  reactStrictMode: true,
  poweredByHeader: false,
  transpilePackages: ['@guestmode/core', '@guestmode/next', '@guestmode/example-bookstore-next'],
  serverExternalPackages: ['better-sqlite3', 'better-sqlite3-node20'],
  webpack(webpackConfig) {
    webpackConfig.resolve.conditionNames = [
      '@guestmode/source',
      ...(webpackConfig.resolve.conditionNames ?? ['...']),
    ];
    webpackConfig.resolve.extensionAlias = {
      ...webpackConfig.resolve.extensionAlias,
      '.js': ['.ts', '.tsx', '.js'],
    };
    return webpackConfig;
  },
};

export default config;
