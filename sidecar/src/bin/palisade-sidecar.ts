#!/usr/bin/env node
/** The `palisade-sidecar` command: see `USAGE` in ../main.ts. */
import { runCli } from '../main.js';

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now; if a stray handle kept the loop alive, do not hang a shutdown.
setTimeout(() => process.exit(code), 2000).unref();
