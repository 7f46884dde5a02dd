// The runner's entry point: everything it does is in main.ts.
import { main } from './main.js';

void main().then((code) => {
  process.exitCode = code;
});
