import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';

import { SluiceError } from '../errors.js';
import type { BucketAdmin } from './bucket-admin.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';

/**
 * {@link BucketAdmin} on Amazon S3 or any S3-compatible endpoint.
 *
 * @example
 * const admin = new S3BucketAdmin(new S3Client({ region: 'eu-west-1' }));
 * await admin.deleteBucket('sluice-scratch');
 * @throws ConfigurationError when access is denied; AwsRequestError for faults.
 */
export class S3BucketAdmin implements BucketAdmin {
  constructor(private readonly client: S3Client) {}

  async getBucketTags(bucket: string): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      const output = await this.client.send(new GetBucketTaggingCommand({ Bucket: bucket }));
      const tags: Record<string, string> = {};
      for (const tag of output.TagSet ?? []) {
        if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
      }
      return tags;
    } catch (thrown: unknown) {
      const { code } = describeAwsError(thrown);
      if (code === 'NoSuchTagSet' || code === 'NoSuchTagSetError') return {};
      if (code === 'NoSuchBucket') return undefined;
      throw classifyAwsError(thrown, 'S3.GetBucketTagging', `s3://${bucket}`);
    }
  }

  async deleteBucket(bucket: string): Promise<{ readonly objectsDeleted: number } | undefined> {
    let objectsDeleted = 0;
    try {
      // Every version and delete marker, so a versioned bucket empties too. The SDK has no
      // paginator for ListObjectVersions, hence the markers by hand.
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (;;) {
        const page = await this.client.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            ...(keyMarker !== undefined && { KeyMarker: keyMarker }),
            ...(versionIdMarker !== undefined && { VersionIdMarker: versionIdMarker }),
          }),
        );
        const objects: ObjectIdentifier[] = [];
        for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
          if (entry.Key === undefined) continue;
          objects.push(
            entry.VersionId === undefined
              ? { Key: entry.Key }
              : { Key: entry.Key, VersionId: entry.VersionId },
          );
        }
        if (objects.length > 0) {
          const result = await this.client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }),
          );
          const errors = result.Errors ?? [];
          const first = errors[0];
          if (first !== undefined) {
            throw new SluiceError(
              `could not empty s3://${bucket}: ${errors.length} objects not deleted, e.g. ${first.Key ?? '?'} (${first.Code ?? ''}: ${first.Message ?? ''})`,
            );
          }
          objectsDeleted += objects.length;
        }
        if (page.IsTruncated !== true) break;
        keyMarker = page.NextKeyMarker;
        versionIdMarker = page.NextVersionIdMarker;
      }
      await this.client.send(new DeleteBucketCommand({ Bucket: bucket }));
    } catch (thrown: unknown) {
      if (thrown instanceof SluiceError) throw thrown;
      if (describeAwsError(thrown).code === 'NoSuchBucket') return undefined;
      throw classifyAwsError(thrown, 'S3.DeleteBucket', `s3://${bucket}`);
    }
    return { objectsDeleted };
  }
}
