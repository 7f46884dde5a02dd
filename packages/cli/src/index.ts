#!/usr/bin/env node
// The `sluice` command. Kept thin: everything it does is in program.ts and the command modules.
import { processIo } from './io.js';
import { runCli } from './program.js';
import { unsupportedNode } from './version.js';

const refusal = unsupportedNode(process.versions.node);
if (refusal !== undefined) {
  processIo.err(`sluice: ${refusal}\n`);
  process.exitCode = 2;
} else {
  void runCli(process.argv.slice(2), processIo).then((exitCode) => {
    process.exitCode = exitCode;
  });
}
