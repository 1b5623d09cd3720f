/** Real multipaxos replica processes on 127.0.0.1 under kill -9, restarts, partitions, junk frames, chaos and storage faults. */
import { describeReplicaProcesses } from '../../support/replica-processes.ts'

describeReplicaProcesses('multipaxos')
