// The container engine contract against the fake; test/integration/container-engine.test.ts runs it
// against podman.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CONTAINER_CONTRACT_PROGRAM,
  describeContainerEngineContract,
  writeContractImageContext,
} from './contract-container-engine.js';
import { FakeContainerEngine } from './fake-container-engine.js';

describeContainerEngineContract('FakeContainerEngine', () => {
  const work = mkdtempSync(join(tmpdir(), 'sluice-fake-engine-'));
  return Promise.resolve({
    engine: new FakeContainerEngine({ program: CONTAINER_CONTRACT_PROGRAM }),
    context: writeContractImageContext(join(work, 'image')),
    id: 'fake',
    registry: 'registry.example:5000',
    cleanup: () => {
      rmSync(work, { recursive: true, force: true });
      return Promise.resolve();
    },
  });
});
