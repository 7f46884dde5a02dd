// @sluice/core/broker: the task control (lease, heartbeat, commit, fail, release) that the runner
// holds in direct mode and the broker holds in sealed mode, the broker protocol, and its servers.
export { BrokerService } from './broker-service.js';
export type { BrokerAnswer } from './broker-service.js';
export { listenBroker, newBrokerToken } from './broker-server.js';
export { brokerControlSettings } from './control-settings.js';
export type { ControlSettings } from './control-settings.js';
export { LeaseSigner, newBrokerKey } from './lease-token.js';
export type { TaskRef } from './message-decision.js';
export { BROKER_PROTOCOL, BROKER_PROTOCOL_HEADER, MAX_LEASE_WAIT_SECONDS } from './protocol.js';
export type {
  BrokerErrorBody,
  BrokerOperation,
  CompleteResponse,
  FailResponse,
  GrantedLease,
  HeartbeatResponse,
  LeaseResponse,
} from './protocol.js';
export { OUTPUT_WRITER_METADATA } from './task-commit.js';
export { TaskControl } from './task-control.js';
export type {
  CompletionReport,
  CompletionResult,
  ControlStats,
  FailureReport,
  Lease,
} from './control-types.js';
export { TaskLedger } from './task-ledger.js';
