#!/usr/bin/env node
// The `sluice` command. Kept thin: everything it does is in program.ts and the command modules.
import { processIo } from './io.js';
import { runCli } from './program.js';

void runCli(process.argv.slice(2), processIo).then((exitCode) => {
  process.exitCode = exitCode;
});
