// `sluice try` prints the attempt's record as a runner would write it: a port server that refuses the
// input with its secret token in the answer must not put the token on the developer's terminal.
// Runs a real server process on this machine (`--host`; hence the integration tier).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { runCli } from '../../../packages/cli/src/program.js';
import { freeListenPort } from '../../testbed/servers.js';

const SECRET = 'tok-9Zr4-keep-me-off-screens';

const SERVER = `
import { createServer } from 'node:http';
createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(400, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ message: 'the API refused token ' + process.env.API_TOKEN }));
  });
}).listen(Number(process.argv[2]), '127.0.0.1');
`;

describe('sluice try with a secret variable', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-try-mask-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("masks the value in the record's message when the server echoes it", async () => {
    const script = join(dir, 'server.mjs');
    await writeFile(script, SERVER);
    const port = await freeListenPort();
    const manifest = join(dir, 'algorithm.json');
    await writeFile(
      manifest,
      JSON.stringify({
        name: 'refuser',
        version: '1.0.0',
        image: 'example.com/refuser:1',
        memory: 256,
        input: '/data/in/',
        output: '/data/out/',
        port,
        command: [process.execPath, script, String(port)],
        env: { API_TOKEN: { secret: true, required: true } },
      }),
    );
    const input = join(dir, 'photo.txt');
    await writeFile(input, 'hello');
    const out: string[] = [];
    const io = {
      out: (text: string) => out.push(text),
      err: (text: string) => out.push(text),
      readFile: (path: string) => import('node:fs/promises').then((fs) => fs.readFile(path, 'utf8')),
    };

    await runCli(
      ['try', manifest, input, '--host', '--env', `API_TOKEN=${SECRET}`, '--out', join(dir, 'out')],
      io,
    );

    const printed = out.join('');
    expect(printed).toContain('the API refused token ***');
    expect(printed).not.toContain(SECRET);
  });
});
