import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { detectContainerEngine } from '@sluice/core/compute';
import { initAlgorithm } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { maskingLogger } from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice init localhost/edges:1.2                          # algorithm.json and job.json here
  $ sluice init --dockerfile Dockerfile --dir algo          # build it, then draft from the result
  $ sluice init ghcr.io/acme/edges:1.2 && sluice validate algorithm.json job.json

Writes algorithm.json (image, platform, port, env from the image) and a job.json skeleton, then lists
what the image cannot say (memory, input and output paths, the buckets). Never overwrites without --force.

Exit status: 0 written, 2 a file exists or the image cannot be found or built, 1 sluice itself failed.
`;

interface InitCommandOptions {
  readonly dockerfile?: string;
  readonly context?: string;
  readonly name?: string;
  readonly dir?: string;
  readonly force?: boolean;
  readonly verbose?: boolean;
}

/**
 * The published schemas of this checkout (`packages/core/schemas`), looked for above the CLI's own
 * file, so the bundle and the sources find them alike; undefined for a CLI copied elsewhere.
 */
function schemaDir(base: string = import.meta.url): string | undefined {
  let dir = dirname(fileURLToPath(base));
  for (;;) {
    const candidate = join(dir, 'packages', 'core', 'schemas');
    if (existsSync(join(candidate, 'algorithm.schema.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `sluice init IMAGE` / `sluice init --dockerfile PATH`: a first algorithm.json and job.json. */
export function registerInit(program: Command, context: CommandContext): void {
  program
    .command('init')
    .summary('write algorithm.json and a job.json skeleton from an image or a Dockerfile')
    .description(
      'Inspect IMAGE (pulled when not local) or build --dockerfile with the container engine, and write an algorithm.json from what the image says (name from the repository, version from the tag, platform, the port when it exposes exactly one, env from its settings-like variables) and a job.json skeleton naming it. Memory, input, output and the buckets are placeholders that validate: edit them. Refuses to overwrite either file unless --force.',
    )
    .argument('[image]', 'an image reference, e.g. localhost/edges:1.2')
    .option(
      '--dockerfile <path>',
      'build this Dockerfile and draft from the result (the manifest builds it too)',
    )
    .option('--context <dir>', "the build context (default the Dockerfile's directory)")
    .option('--name <name>', "the algorithm's name with --dockerfile (default the context directory's name)")
    .option('--dir <dir>', 'write the files here (default the working directory)')
    .option('--force', 'replace algorithm.json and job.json when they exist')
    .option('--verbose', 'print the engine commands too')
    .addHelpText('after', EXAMPLES)
    .action(async (image: string | undefined, options: InitCommandOptions) => {
      const logger = maskingLogger((line) => {
        context.io.err(`${line}\n`);
      }, options.verbose === true);
      const dir = schemaDir();
      const result = await initAlgorithm({
        engine: () => detectContainerEngine({ logger }),
        logger,
        ...(image !== undefined ? { image } : {}),
        ...(options.dockerfile !== undefined ? { dockerfile: options.dockerfile } : {}),
        ...(options.context !== undefined ? { context: options.context } : {}),
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(options.dir !== undefined ? { dir: options.dir } : {}),
        ...(options.force === true ? { force: true } : {}),
        ...(dir !== undefined ? { schemaDir: dir } : {}),
      });
      const lines = [
        `wrote ${result.algorithmPath}`,
        `wrote ${result.jobPath}`,
        ...result.notes.map((note) => `note: ${note}`),
        'edit these:',
        ...result.editThese.map((line) => `  - ${line}`),
      ];
      context.io.out(`${lines.join('\n')}\n`);
    });
}
