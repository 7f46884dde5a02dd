// @sluice/core/broker: the task control (lease, heartbeat, commit, fail, release) that the runner
// holds in direct mode and the broker holds in sealed mode, the broker protocol, and its servers.
export { BrokerService } from './broker-service.js';
export type { BrokerAnswer, BrokerServiceDeps } from './broker-service.js';
export { listenBroker, newBrokerToken } from './broker-server.js';
export type { BrokerListener } from './broker-server.js';
export type { ControlSettings } from './control-settings.js';
export { BrokerRefusal, LEASE_GRACE_SECONDS, LeaseSigner, newBrokerKey } from './lease-token.js';
export { decideMessage } from './message-decision.js';
export type { MessageDecision, TaskRef } from './message-decision.js';
export {
  BROKER_OPERATIONS,
  BROKER_PROTOCOL,
  BROKER_PROTOCOL_HEADER,
  MAX_LEASE_WAIT_SECONDS,
  parseBrokerRequest,
} from './protocol.js';
export type {
  BrokerErrorBody,
  BrokerOperation,
  BrokerRequests,
  CompleteRequest,
  CompleteResponse,
  FailRequest,
  FailResponse,
  GrantedLease,
  HeartbeatResponse,
  LeaseResponse,
  ReleaseRequest,
  ReleaseResponse,
} from './protocol.js';
export { TRANSFER_MARGIN_SECONDS } from './task-commit.js';
export type { StagedOutput } from './task-commit.js';
export { TaskControl } from './task-control.js';
export type { TaskControlDeps } from './task-control.js';
export type {
  AttemptReport,
  CompletionReport,
  CompletionResult,
  ControlOutcome,
  ControlStats,
  FailureReport,
  HeartbeatResult,
  Lease,
} from './control-types.js';
export { TaskLedger } from './task-ledger.js';
