// The Next configuration both Bookstores (Pages Router and App Router) build with. Next consumes
// the workspace packages (@guestmode/core, @guestmode/next) as TypeScript source, through their
// `@guestmode/source` export condition, so no `npm run build` of the packages is needed before
// `next build`. The packages' sources import each other with `.js` extensions (NodeNext style);
// Turbopack cannot map those to `.ts` yet, so the apps build with webpack (`next build
// --webpack`), which can (`resolve.extensionAlias`).

/**
 * @param {{ transpile?: string[] }} [options] workspace packages the app compiles from source
 *   besides @guestmode/core and @guestmode/next
 * @returns {import('next').NextConfig}
 */
export function bookstoreNextConfig(options = {}) {
  return {
    // Tests build into their own folder so they never clobber `npm run start:next*`'s build.
    distDir: process.env.BOOKSTORE_NEXT_DIST_DIR || '.next',
    reactStrictMode: true,
    poweredByHeader: false,
    transpilePackages: ['@guestmode/core', '@guestmode/next', ...(options.transpile ?? [])],
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
}
