import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { checkDocuments, detectKind, parseJob, parseManifest } from './documents.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const EXAMPLES = [
  'examples/algorithms/thumbnails/algorithm.json',
  'examples/jobs/thumbnails.json',
  'examples/jobs/thumbnails-ecs.json',
];
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

const MANIFEST = {
  name: 'thumbnails',
  version: '1.0.0',
  image: 'ghcr.io/acme/thumbnails:1.0.0',
  memory: 512,
  env: {
    SIZE: { required: true, description: 'pixels' },
    TOKEN: { secret: true },
    MODE: { default: 'fast' },
  },
};
const JOB = {
  name: 'thumbs',
  algorithm: 'thumbnails@1.0.0',
  input: { bucket: 'in-bucket', prefix: 'photos/' },
  output: { bucket: 'out-bucket' },
  env: { SIZE: '128', TOKEN: { fromEnv: 'TOKEN' } },
};

type Doc = Record<string, unknown>;
const manifestWith = (patch: Doc): Doc => ({ ...MANIFEST, ...patch });
const jobWith = (patch: Doc): Doc => ({ ...JOB, ...patch });
const without = (doc: Doc, key: string): Doc =>
  Object.fromEntries(Object.entries(doc).filter(([k]) => k !== key));

interface Case {
  readonly name: string;
  readonly kind: 'manifest' | 'job';
  /** The document, or raw text when the case is about JSON syntax. */
  readonly doc: Doc | string;
  readonly path: string;
  readonly words: readonly string[];
  /** Checked together with MANIFEST (cross-checks). */
  readonly withManifest?: boolean;
  readonly file?: 'manifest';
}

const AKIA = ['AKIA', 'IOSFODNN7', 'EXAMPLE'].join('');
const SECRET40 = ['wJalrXUtnFEMI', '/K7MDENG/bPxRfiCY', 'EXAMPLEKEY'].join('');

const CASES: readonly Case[] = [
  // manifests
  {
    name: 'missing name',
    kind: 'manifest',
    doc: without(MANIFEST, 'name'),
    path: '$.name',
    words: ['"name"', 'required'],
  },
  {
    name: 'missing version',
    kind: 'manifest',
    doc: without(MANIFEST, 'version'),
    path: '$.version',
    words: ['required'],
  },
  {
    name: 'missing memory',
    kind: 'manifest',
    doc: without(MANIFEST, 'memory'),
    path: '$.memory',
    words: ['required'],
  },
  {
    name: 'neither image nor build',
    kind: 'manifest',
    doc: without(MANIFEST, 'image'),
    path: '$.image',
    words: ['"image" or "build"', 'required'],
  },
  {
    name: 'both image and build',
    kind: 'manifest',
    doc: manifestWith({ build: { context: '.' } }),
    path: '$.build',
    words: ['either', 'not both'],
  },
  {
    name: 'memory 2GB',
    kind: 'manifest',
    doc: manifestWith({ memory: '2GB' }),
    path: '$.memory',
    words: ['ambiguous', 'GB'],
  },
  {
    name: 'memory 512M',
    kind: 'manifest',
    doc: manifestWith({ memory: '512M' }),
    path: '$.memory',
    words: ['ambiguous'],
  },
  {
    name: 'memory lower-case gib',
    kind: 'manifest',
    doc: manifestWith({ memory: '2gib' }),
    path: '$.memory',
    words: ['ambiguous'],
  },
  {
    name: 'memory fraction',
    kind: 'manifest',
    doc: manifestWith({ memory: 1.5 }),
    path: '$.memory',
    words: ['whole number'],
  },
  {
    name: 'memory numeric string',
    kind: 'manifest',
    doc: manifestWith({ memory: '512' }),
    path: '$.memory',
    words: ['number written as a string'],
  },
  {
    name: 'memory too small',
    kind: 'manifest',
    doc: manifestWith({ memory: 2 }),
    path: '$.memory',
    words: ['at least 6'],
  },
  {
    name: 'memory boolean',
    kind: 'manifest',
    doc: manifestWith({ memory: true }),
    path: '$.memory',
    words: ['number of MiB'],
  },
  {
    name: 'port too high',
    kind: 'manifest',
    doc: manifestWith({ port: 70000 }),
    path: '$.port',
    words: ['between 1 and 65535'],
  },
  {
    name: 'port zero',
    kind: 'manifest',
    doc: manifestWith({ port: 0 }),
    path: '$.port',
    words: ['between 1 and 65535'],
  },
  {
    name: 'relative input',
    kind: 'manifest',
    doc: manifestWith({ input: 'data/in/' }),
    path: '$.input',
    words: ['absolute'],
  },
  {
    name: 'dot-dot output',
    kind: 'manifest',
    doc: manifestWith({ output: '/data/../etc/' }),
    path: '$.output',
    words: ['".."'],
  },
  {
    name: 'NUL in input',
    kind: 'manifest',
    doc: manifestWith({ input: '/data/in\u0000/' }),
    path: '$.input',
    words: ['NUL'],
  },
  {
    // The runner's work directory is under /tmp: an output of /tmp/ emptied it and the runner hung.
    name: 'output is /tmp',
    kind: 'manifest',
    doc: manifestWith({ output: '/tmp/' }),
    path: '$.output',
    words: ['must not be /tmp', "the runner's temporary directory"],
  },
  {
    name: "output inside the runner's work directory",
    kind: 'manifest',
    doc: manifestWith({ output: '/tmp/sluice-runner-x/out/' }),
    path: '$.output',
    words: ['/tmp/sluice-runner-', 'work directories'],
  },
  {
    name: "input under the wrapped image's runner directory",
    kind: 'manifest',
    doc: manifestWith({ input: '/sluice/in/' }),
    path: '$.input',
    words: ['must not be /sluice or lie under it', 'runner'],
  },
  {
    name: 'input under /proc',
    kind: 'manifest',
    doc: manifestWith({ input: '/proc/self/in' }),
    path: '$.input',
    words: ['/proc', 'kernel'],
  },
  {
    name: 'output is /dev',
    kind: 'manifest',
    doc: manifestWith({ output: '//dev/' }),
    path: '$.output',
    words: ['/dev', 'kernel'],
  },
  {
    name: 'output under /sys',
    kind: 'manifest',
    doc: manifestWith({ output: '/sys/fs/out.txt' }),
    path: '$.output',
    words: ['/sys', 'kernel'],
  },
  {
    name: 'input holds output',
    kind: 'manifest',
    doc: manifestWith({ input: '/data/', output: '/data/out/' }),
    path: '$.input',
    words: ['must not hold the output'],
  },
  {
    name: 'input directory holds the output file',
    kind: 'manifest',
    doc: manifestWith({ input: '/data/', output: '/data/result.json' }),
    path: '$.input',
    words: ['must not hold the output'],
  },
  {
    name: 'output holds input',
    kind: 'manifest',
    doc: manifestWith({ input: '/data/x', output: '/data/' }),
    path: '$.output',
    words: ['must not hold the input'],
  },
  {
    name: 'unknown field with typo',
    kind: 'manifest',
    doc: manifestWith({ memroy: 5 }),
    path: '$.memroy',
    words: ['unknown property', '"memroy"'],
  },
  {
    name: 'bad platform',
    kind: 'manifest',
    doc: manifestWith({ platform: 'amd64' }),
    path: '$.platform',
    words: ['a platform sluice can run', '"linux/amd64"'],
  },
  {
    name: 'a platform no backend runs',
    kind: 'manifest',
    doc: manifestWith({ platform: 'linux/sparc64' }),
    path: '$.platform',
    words: ['a platform sluice can run', '"linux/amd64"', '"linux/arm64"'],
  },
  {
    name: 'bad name',
    kind: 'manifest',
    doc: manifestWith({ name: 'Thumb Nails' }),
    path: '$.name',
    words: ['lower-case name'],
  },
  {
    name: 'cpu zero',
    kind: 'manifest',
    doc: manifestWith({ cpu: 0 }),
    path: '$.cpu',
    words: ['greater than 0'],
  },
  {
    name: 'env var bad name',
    kind: 'manifest',
    doc: manifestWith({ env: { '1BAD': {} } }),
    path: "$.env['1BAD']",
    words: ['not a valid name'],
  },
  {
    name: 'env var reserved name',
    kind: 'manifest',
    doc: manifestWith({ env: { SLUICE_X: {} } }),
    path: '$.env.SLUICE_X',
    words: ['not a valid name'],
  },
  {
    name: 'env unknown attribute',
    kind: 'manifest',
    doc: manifestWith({ env: { A: { secrte: true } } }),
    path: '$.env.A.secrte',
    words: ['unknown property'],
  },
  {
    name: 'secret with default',
    kind: 'manifest',
    doc: manifestWith({ env: { A: { secret: true, default: 'x' } } }),
    path: '$.env.A.default',
    words: ['secret', 'default'],
  },
  {
    name: 'timeout beyond 12h',
    kind: 'manifest',
    doc: manifestWith({ timeoutSeconds: 50000 }),
    path: '$.timeoutSeconds',
    words: ['between 1 and 43200'],
  },
  {
    name: 'exit code out of range',
    kind: 'manifest',
    doc: manifestWith({ retry: { permanentExitCodes: [1, 300] } }),
    path: '$.retry.permanentExitCodes[1]',
    words: ['between 0 and 255'],
  },
  {
    name: 'command empty',
    kind: 'manifest',
    doc: manifestWith({ command: [] }),
    path: '$.command',
    words: ['at least 1 item'],
  },
  {
    name: 'build without context',
    kind: 'manifest',
    doc: manifestWith({ image: undefined, build: { dockerfile: 'Dockerfile' } }),
    path: '$.build.context',
    words: ['"context"', 'required'],
  },
  {
    name: 'literal key id in manifest',
    kind: 'manifest',
    doc: manifestWith({ description: `uses ${AKIA}` }),
    path: '$.description',
    words: ['literal', 'access key id'],
  },
  // jobs
  {
    name: 'missing input',
    kind: 'job',
    doc: without(JOB, 'input'),
    path: '$.input',
    words: ['"input"', 'required'],
  },
  {
    name: 'missing output bucket',
    kind: 'job',
    doc: jobWith({ output: {} }),
    path: '$.output.bucket',
    words: ['"bucket"', 'required'],
  },
  {
    name: 'bad bucket name',
    kind: 'job',
    doc: jobWith({ input: { bucket: 'My_Bucket' } }),
    path: '$.input.bucket',
    words: ['S3 bucket name'],
  },
  {
    name: 'leading slash prefix',
    kind: 'job',
    doc: jobWith({ output: { bucket: 'out-bucket', prefix: '/x/' } }),
    path: '$.output.prefix',
    words: ['no leading "/"'],
  },
  {
    name: 'reserved output prefix',
    kind: 'job',
    doc: jobWith({ output: { bucket: 'out-bucket', prefix: '_sluice/x/' } }),
    path: '$.output.prefix',
    words: ['_sluice/', 'reserves'],
  },
  {
    name: 'include not array',
    kind: 'job',
    doc: jobWith({ input: { bucket: 'in-bucket', include: '*.jpg' } }),
    path: '$.input.include',
    words: ['an array'],
  },
  {
    name: 'include empty glob',
    kind: 'job',
    doc: jobWith({ input: { bucket: 'in-bucket', include: ['*.jpg', ''] } }),
    path: '$.input.include[1]',
    words: ['must not be empty'],
  },
  {
    name: 'backend typo',
    kind: 'job',
    doc: jobWith({ compute: { backend: 'ecss' } }),
    path: '$.compute.backend',
    words: ['one of', '"ecs"'],
  },
  {
    name: 'maxWorkers zero',
    kind: 'job',
    doc: jobWith({ compute: { maxWorkers: 0 } }),
    path: '$.compute.maxWorkers',
    words: ['between 1 and 1000'],
  },
  {
    name: 'min above max workers',
    kind: 'job',
    doc: jobWith({ compute: { minWorkers: 5, maxWorkers: 2 } }),
    path: '$.compute.minWorkers',
    words: ['more than maxWorkers'],
  },
  {
    name: 'unknown compute field',
    kind: 'job',
    doc: jobWith({ compute: { maxWorker: 3 } }),
    path: '$.compute.maxWorker',
    words: ['unknown property'],
  },
  {
    name: 'bad subnet',
    kind: 'job',
    doc: jobWith({ compute: { subnets: ['subnet-1'] } }),
    path: '$.compute.subnets[0]',
    words: ['subnet id'],
  },
  {
    name: 'duplicate subnet',
    kind: 'job',
    doc: jobWith({ compute: { subnets: ['subnet-0abc1234', 'subnet-0abc1234'] } }),
    path: '$.compute.subnets[1]',
    words: ['repeats item [0]'],
  },
  {
    name: 'retries negative',
    kind: 'job',
    doc: jobWith({ retries: -1 }),
    path: '$.retries',
    words: ['between 0 and 10'],
  },
  { name: 'mode typo', kind: 'job', doc: jobWith({ mode: 'seal' }), path: '$.mode', words: ['one of'] },
  {
    name: 'keep not boolean',
    kind: 'job',
    doc: jobWith({ keep: 'yes' }),
    path: '$.keep',
    words: ['true or false'],
  },
  {
    name: 'algorithm bare name',
    kind: 'job',
    doc: jobWith({ algorithm: 'thumbnails' }),
    path: '$.algorithm',
    words: ['neither name@version nor an image'],
  },
  {
    name: 'env value number',
    kind: 'job',
    doc: jobWith({ env: { SIZE: 128 } }),
    path: '$.env.SIZE',
    words: ['a string', 'fromEnv', 'fromSecret'],
  },
  {
    name: 'env fromEnv not a string',
    kind: 'job',
    doc: jobWith({ env: { TOKEN: { fromEnv: 1 } } }),
    path: '$.env.TOKEN.fromEnv',
    words: ['must be a string'],
  },
  {
    name: 'env unknown reference form',
    kind: 'job',
    doc: jobWith({ env: { TOKEN: { fromFile: 'x' } } }),
    path: '$.env.TOKEN',
    words: ['fromEnv', 'fromSecret'],
  },
  {
    name: 'credentials profile without profile',
    kind: 'job',
    doc: jobWith({ aws: { credentials: 'profile' } }),
    path: '$.aws.profile',
    words: ['required when credentials is "profile"'],
  },
  {
    name: 'oidc without role',
    kind: 'job',
    doc: jobWith({ aws: { credentials: 'oidc' } }),
    path: '$.aws.roleArn',
    words: ['required when credentials is'],
  },
  {
    name: 'role given with environment',
    kind: 'job',
    doc: jobWith({ aws: { roleArn: 'arn:aws:iam::123456789012:role/x' } }),
    path: '$.aws.roleArn',
    words: ['only used when credentials'],
  },
  {
    name: 'bad role ARN',
    kind: 'job',
    doc: jobWith({ aws: { credentials: 'roleArn', roleArn: 'my-role' } }),
    path: '$.aws.roleArn',
    words: ['IAM role ARN'],
  },
  {
    name: 'bad region',
    kind: 'job',
    doc: jobWith({ aws: { region: 'Europe' } }),
    path: '$.aws.region',
    words: ['AWS region'],
  },
  {
    name: 'aws access key field',
    kind: 'job',
    doc: jobWith({ aws: { accessKeyId: 'x' } }),
    path: '$.aws.accessKeyId',
    words: ['never holds AWS credentials'],
  },
  {
    name: 'literal access key id',
    kind: 'job',
    doc: jobWith({ aws: { accessKeyId: AKIA } }),
    path: '$.aws.accessKeyId',
    words: ['literal credential'],
  },
  {
    name: 'literal secret key',
    kind: 'job',
    doc: jobWith({ env: { AWS_SECRET_ACCESS_KEY: SECRET40 } }),
    path: '$.env.AWS_SECRET_ACCESS_KEY',
    words: ['literal credential'],
  },
  {
    name: 'not JSON',
    kind: 'job',
    doc: '{\n  "name": "x",\n  "input": }',
    path: '$',
    words: ['not valid JSON', 'line 3, column 12'],
  },
  {
    name: 'trailing comma',
    kind: 'job',
    doc: '{"name": "x",}',
    path: '$',
    words: ['not valid JSON', 'line 1, column 14'],
  },
  {
    // JSON.parse keeps the last: the first value would never reach the literal-secret scan.
    name: 'a key given twice',
    kind: 'job',
    doc: `{"name": "x", "algorithm": "a@1", "input": {"bucket": "in-bucket"}, "output": {"bucket": "out-bucket"},\n "env": {"X": "${AKIA}",\n  "X": "ok"}}`,
    path: '$.env.X',
    words: ['given 2 times', 'line 2, column 10 and line 3, column 3'],
  },
  {
    name: 'a key shaped like a credential given twice',
    kind: 'manifest',
    doc: `{"${AKIA}": 1, "${AKIA}": 2}`,
    path: '$.<redacted>',
    words: ['given 2 times', 'line 1, column 2 and line 1, column 29'],
  },
  {
    name: 'nested too deep',
    kind: 'job',
    doc: `{"name": "x", "env": {"X": ${'['.repeat(5000)}${']'.repeat(5000)}}}`,
    path: `$.env.X${'[0]'.repeat(62)}`,
    words: ['nested more than 64 levels deep', 'line 1, column 90'],
  },
  { name: 'not an object', kind: 'job', doc: '[1, 2]', path: '$', words: ['JSON object'] },
  // a job against its manifest
  {
    name: 'required variable missing',
    kind: 'job',
    withManifest: true,
    doc: jobWith({ env: { TOKEN: { fromEnv: 'T' } } }),
    path: '$.env.SIZE',
    words: ['required by the algorithm'],
  },
  {
    name: 'unknown variable',
    kind: 'job',
    withManifest: true,
    doc: jobWith({ env: { SIZE: '1', SIZ: '2' } }),
    path: '$.env.SIZ',
    words: ['not declared'],
  },
  {
    name: 'secret given literally',
    kind: 'job',
    withManifest: true,
    doc: jobWith({ env: { SIZE: '1', TOKEN: 'abc' } }),
    path: '$.env.TOKEN',
    words: ['secret', 'must not be written'],
  },
  {
    name: 'other algorithm',
    kind: 'job',
    withManifest: true,
    doc: jobWith({ algorithm: 'thumbnails@2.0.0' }),
    path: '$.algorithm',
    words: ['different algorithm'],
  },
  {
    name: 'too big for Fargate',
    kind: 'job',
    withManifest: true,
    file: 'manifest',
    doc: jobWith({ compute: { backend: 'ecs' } }),
    path: '$.memory',
    words: ['no Fargate task size'],
  },
];

const BIG_MANIFEST = { ...MANIFEST, memory: '200GiB' };

describe('invalid documents', () => {
  test('there are at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // Prepare
    const file = c.kind === 'manifest' ? 'algorithm.json' : 'job.json';
    const text = typeof c.doc === 'string' ? c.doc : JSON.stringify(c.doc, null, 2);
    const sources = [{ file, text }];
    if (c.withManifest === true) {
      const manifest = c.file === 'manifest' ? BIG_MANIFEST : MANIFEST;
      sources.push({ file: 'algorithm.json', text: JSON.stringify(manifest) });
    }
    // Act
    const report = checkDocuments(sources);
    // Assess
    const wanted = c.file === 'manifest' ? 'algorithm.json' : file;
    const atPath = report.problems.filter((p) => p.path === c.path && p.file === wanted);
    const match = atPath.find((p) => c.words.every((word) => p.message.includes(word)));
    // On failure, the diff shows every problem found at that path.
    expect(match ? 'found' : { wanted: c.words, at: c.path, got: report.problems }).toBe('found');
    // No problem ever repeats a literal credential.
    const printed = JSON.stringify(report);
    expect(printed).not.toContain(AKIA);
    expect(printed).not.toContain(SECRET40);
    expect(printed).not.toContain('IOSFODNN7');
  });
});

describe('problems', () => {
  test('collapse a union into one problem per value', () => {
    const report = checkDocuments([
      { file: 'job.json', text: JSON.stringify(jobWith({ env: { SIZE: 128 } })) },
    ]);
    expect(report.problems.filter((p) => p.path === '$.env.SIZE')).toHaveLength(1);
  });

  test('suggest the closest known name', () => {
    const report = checkDocuments([
      { file: 'job.json', text: JSON.stringify(jobWith({ timeoutSecond: 5 })) },
    ]);
    expect(report.problems).toEqual([
      expect.objectContaining({ path: '$.timeoutSecond', hint: 'Did you mean "timeoutSeconds"?' }),
    ]);
  });

  test('memory hint tells what to write', () => {
    const report = checkDocuments([
      { file: 'a.json', text: JSON.stringify(manifestWith({ memory: '2GB' })) },
    ]);
    expect(report.problems[0]?.hint).toBe('Write 2GiB or 2048');
  });

  test('never quote a value given for a variable', () => {
    const report = checkDocuments([
      { file: 'job.json', text: JSON.stringify(jobWith({ env: { SIZE: '1', TOKEN: 'hunter2' } })) },
      { file: 'algorithm.json', text: JSON.stringify(MANIFEST) },
    ]);
    expect(report.problems).not.toEqual([]);
    expect(JSON.stringify(report)).not.toContain('hunter2');
  });

  test('a platform sluice cannot run is refused with the ones it can, as a hint', () => {
    const report = checkDocuments([
      { file: 'a.json', text: JSON.stringify(manifestWith({ platform: 'linux/sparc64' })) },
    ]);
    expect(report.problems).toEqual([
      expect.objectContaining({
        path: '$.platform',
        found: '"linux/sparc64"',
        hint: expect.stringContaining('"linux/amd64", "linux/arm64" or "linux/arm64/v8"') as unknown,
      }),
    ]);
    for (const platform of ['linux/amd64', 'linux/arm64', 'linux/arm64/v8']) {
      const ok = checkDocuments([{ file: 'a.json', text: JSON.stringify(manifestWith({ platform })) }]);
      expect(ok.problems).toEqual([]);
    }
  });

  test('container paths next to reserved ones, or sharing a parent, are fine', () => {
    for (const [input, output] of [
      ['/procs/in/', '/tmpdata/out/'],
      ['/tmp/in/', '/tmp/out/'],
      ['/data/in.csv', '/data/out/'],
      ['/data/in/', '/data/in.out/'],
      ['/sluicer/in/', '/developer/out.json'],
    ]) {
      const report = checkDocuments([
        { file: 'a.json', text: JSON.stringify(manifestWith({ input, output })) },
      ]);
      expect({ input, output, problems: report.problems }).toEqual({ input, output, problems: [] });
    }
  });

  test('unknown kind says how to tell', () => {
    const report = checkDocuments([{ file: 'x.json', text: '{"name": "x"}' }]);
    expect(report.documents[0]?.kind).toBeUndefined();
    expect(report.problems[0]).toEqual(
      expect.objectContaining({ path: '$', hint: expect.stringContaining('$schema') }),
    );
  });
});

describe('examples', () => {
  test('validate clean, alone and together', () => {
    const sources = EXAMPLES.map((file) => ({ file, text: read(file) }));
    const report = checkDocuments(sources);
    expect(report.problems).toEqual([]);
    expect(report.documents.map((d) => d.kind)).toEqual(['manifest', 'job', 'job']);
  });

  test('normalise with defaults', () => {
    const manifest = parseManifest(read(EXAMPLES[0] ?? ''), 'algorithm.json');
    expect(manifest.memoryMiB).toBe(64);
    expect(manifest.input).toEqual({ path: '/data/in', kind: 'directory' });
    expect(manifest.env.WATERMARK_TOKEN?.secret).toBe(true);
    const job = parseJob(read(EXAMPLES[2] ?? ''), 'job.json');
    expect(job.algorithm).toEqual({ kind: 'catalogue', name: 'thumbnails', version: '1.0.0' });
    expect(job.aws.credentials).toEqual({
      source: 'roleArn',
      roleArn: 'arn:aws:iam::123456789012:role/sluice-runner',
      roleSessionName: 'sluice',
    });
    expect(job.compute).toEqual(
      expect.objectContaining({ backend: 'ecs', minWorkers: 0, assignPublicIp: true }),
    );
  });

  test('a job passes its $schema', () => {
    expect(detectKind(JSON.parse(read(EXAMPLES[1] ?? '')))).toBe('job');
    expect(detectKind(JSON.parse(read(EXAMPLES[0] ?? '')))).toBe('manifest');
  });
});

describe('parseJob', () => {
  test('throws a ValidationError with every problem', () => {
    const text = JSON.stringify(jobWith({ retries: -1, mode: 'x' }));
    expect(() => parseJob(text, 'job.json')).toThrow(ValidationError);
    try {
      parseJob(text, 'job.json');
    } catch (thrown: unknown) {
      expect(thrown instanceof ValidationError ? thrown.problems.map((p) => p.path) : []).toEqual([
        '$.retries',
        '$.mode',
      ]);
    }
  });

  test('defaults', () => {
    const job = parseJob(JSON.stringify(JOB), 'job.json');
    expect(job).toEqual(
      expect.objectContaining({
        retries: 2,
        keep: false,
        mode: 'sealed',
        input: { bucket: 'in-bucket', prefix: 'photos/', include: ['**'], create: false },
        output: { bucket: 'out-bucket', prefix: '' },
        aws: { credentials: { source: 'environment' } },
      }),
    );
    expect(job.compute).toEqual({
      backend: 'local',
      maxWorkers: 4,
      minWorkers: 0,
      launchType: 'FARGATE',
      spot: false,
      subnets: [],
      securityGroups: [],
      assignPublicIp: true,
      idleSeconds: 60,
    });
  });
});
