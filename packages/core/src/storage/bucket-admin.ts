/**
 * What teardown needs of buckets beyond {@link ObjectStore}: read a bucket's tags (to know whether
 * this run created it) and delete a bucket with everything in it. Kept apart from `ObjectStore`
 * because only provisioning and teardown may do either; the runner never gets it.
 */

/**
 * Bucket administration. Methods may throw `ConfigurationError` (denied) or `AwsRequestError`.
 *
 * @example
 * const admin: BucketAdmin = new S3BucketAdmin(new S3Client({}));
 * if ((await admin.getBucketTags('out'))?.['sluice:run-id'] === runId) await admin.deleteBucket('out');
 */
export interface BucketAdmin {
  /** The bucket's tags; `{}` when it has none, `undefined` when the bucket does not exist. */
  getBucketTags(bucket: string): Promise<Readonly<Record<string, string>> | undefined>;

  /**
   * Deletes every object (every version and delete marker) and then the bucket. Resolves to the
   * number of objects (versions) deleted, or `undefined` when the bucket did not exist. Idempotent.
   * @throws SluiceError when some objects could not be deleted (the bucket is then kept).
   */
  deleteBucket(bucket: string): Promise<{ readonly objectsDeleted: number } | undefined>;
}
