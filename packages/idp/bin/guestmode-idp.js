#!/usr/bin/env node
// The `guestmode-idp` program: the compiled dist/cli.js, or in an unbuilt checkout its source.
import { launchCli } from '@guestmode/core/launcher';

await launchCli({
  packageRoot: new URL('..', import.meta.url),
  program: 'guestmode-idp',
  entry: 'runIdpCli',
});
