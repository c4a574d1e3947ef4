#!/usr/bin/env node
// Thin launcher: the built CLI lives in dist/ (run `npm run build -w packages/idp` first).
import { runIdpCli } from '../dist/cli.js';

process.exitCode = await runIdpCli(process.argv.slice(2));
