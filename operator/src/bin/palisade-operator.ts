#!/usr/bin/env node
/** The `palisade-operator` command: see `USAGE` in ../options.ts and docs/operator.md. */
import { runCli } from '../main.js';

const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now; if a stray handle (a watch socket) kept the loop alive, do not
// hang the exit.
setTimeout(() => process.exit(code), 2000).unref();
