// The ObjectStore contract against the in-memory fake; the same suite runs against S3 on moto in
// test/integration/storage-s3.test.ts. (It lives here, not in core, because a core test importing
// @sluice/testing would make an nx dependency cycle core -> testing -> core.)
import { describeObjectStoreContract } from './contract-object-store.js';
import { FakeObjectStore } from './fake-object-store.js';

describeObjectStoreContract('FakeObjectStore', async () => {
  const store = new FakeObjectStore();
  await store.ensureBucket('contract-bucket');
  return {
    store,
    bucket: 'contract-bucket',
    newBucketName: (part: string) => `contract-${part}`,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:contract-queue',
    cleanup: () => Promise.resolve(),
  };
});
