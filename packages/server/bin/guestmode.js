#!/usr/bin/env node
// The `guestmode` program: the compiled dist/cli.js, or in an unbuilt checkout its source.
import { launchCli } from '@guestmode/core/launcher';

await launchCli({
  packageRoot: new URL('..', import.meta.url),
  program: 'guestmode',
  entry: 'main',
});
