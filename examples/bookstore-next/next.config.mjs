// Next consumes the workspace packages (@guestmode/core, @guestmode/next) as TypeScript source,
// through their `@guestmode/source` export condition, so no `npm run build` of the packages is needed
// before `next build`. The packages' sources import each other with `.js` extensions (NodeNext
// style); Turbopack cannot map those to `.ts` yet, so this app builds with webpack
// (`next build --webpack`), which can (`resolve.extensionAlias`).

/** @type {import('next').NextConfig} */
const config = {
  // Tests build into their own folder so they never clobber `npm run start:next`'s build.
  distDir: process.env.BOOKSTORE_NEXT_DIST_DIR || '.next',
  reactStrictMode: true,
  poweredByHeader: false,
  transpilePackages: ['@guestmode/core', '@guestmode/next'],
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
