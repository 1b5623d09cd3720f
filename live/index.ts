/**
 * The library API for live clusters: create a node, create a client, submit, read, close.
 */
export { createNode, type ConsensusNode, type NodeOptions, type NodeStatus } from './node.ts'
export { createClient, type ClientOptions, type ConsensusClient } from './client.ts'
export { initCluster, type InitOptions } from './init.ts'
export { loadClusterConfig, validateClusterConfig, type ClusterConfig } from './config.ts'
export { runChaos, type ChaosOptions, type ChaosReport } from './chaos.ts'
export { consensusService, libp2pPrivateKey } from '../net/libp2p/index.ts'
export { RequestTimeoutError } from '../core/client-host.ts'
