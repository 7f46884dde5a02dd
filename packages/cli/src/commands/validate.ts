import { checkDocuments } from '@sluice/core';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { readSources } from '../validation/read-sources.js';
import { buildReport, exitCodeFor, renderJson, renderText } from '../validation/report.js';

const EXAMPLES = `
Examples:
  $ sluice validate algorithm.json
  $ sluice validate algorithm.json job.json     # also checks the job's env against the manifest
  $ sluice validate --json jobs/*.json | jq '.documents[] | select(.problems | length > 0)'

Exit status: 0 every file is valid, 2 a file is invalid or cannot be read, 1 sluice itself failed.
`;

interface ValidateOptions {
  readonly json?: boolean;
}

/** `sluice validate FILE...`: checks manifests and jobs, and cross-checks those given together. */
export function registerValidate(program: Command, context: CommandContext): void {
  program
    .command('validate')
    .summary('check algorithm.json and job.json files')
    .description(
      'Check each file against its contract: an algorithm manifest or a job, told apart by content.\n' +
        "A manifest and a job given together are cross-checked (the job's env against the manifest's variables).\n" +
        'Every problem is printed with its file, JSON path, what was expected and what was found.',
    )
    .argument('<files...>', 'manifest and job files to check')
    .option('--json', 'print a JSON report on stdout: {valid, documents: [{file, kind, problems}]}')
    .addHelpText('after', EXAMPLES)
    .action(async (files: string[], options: ValidateOptions) => {
      const { sources, unreadable } = await readSources(files, context.io.readFile);
      // Nothing readable means nothing for core to check: the unreadable files are the whole report.
      const checked = sources.length > 0 ? checkDocuments(sources) : { documents: [], problems: [] };
      const report = buildReport(files, unreadable, checked);
      context.io.out(options.json === true ? renderJson(report) : renderText(report));
      context.exitCode = exitCodeFor(report);
    });
}
