/**
 * The `network` dimension of a sweep. 'lan' and 'wan' are simulated (deterministic, virtual time); 'libp2p' (real
 * sockets on loopback) is the seam for the live transport: until a runner is plugged in here it is reported as not
 * available rather than faked with the simulator.
 */
import type { SimClusterOptions } from '../net/sim/cluster.ts'
import { THREE_REGION_WAN, type RegionTopology } from '../net/sim/latency.ts'
import type { NetworkName } from './config.ts'

/** One-way latency within a LAN (the simulator's default link model, stated here so reports can quote it). */
export const LAN_LATENCY = { kind: 'uniform', minMs: 0.2, maxMs: 1 } as const
/** Per-hop jitter on top of rtt/2 between regions. */
export const WAN_JITTER = { kind: 'uniform', minMs: 0, maxMs: 0.5 } as const

export const WAN_TOPOLOGY: RegionTopology = THREE_REGION_WAN

/** Replica i sits in region i mod k (5 replicas over 3 regions: 2 + 2 + 1); clients sit in region 0. */
export function wanPlacement(n: number, topology: RegionTopology = WAN_TOPOLOGY): number[] {
  return Array.from({ length: n }, (_, i) => i % topology.names.length)
}

/** null when runs on this network can be made, else why not. */
export function networkAvailability(network: NetworkName): string | null {
  if (network === 'libp2p') {
    return 'libp2p on loopback is not available yet: the live runner is not plugged into bench/networks.ts'
  }
  return null
}

export function simNetworkOptions(network: NetworkName, n: number): NonNullable<SimClusterOptions['network']> {
  switch (network) {
    case 'lan': return { latency: LAN_LATENCY }
    case 'wan': return { latency: WAN_JITTER, regions: WAN_TOPOLOGY, replicaRegions: wanPlacement(n), clientRegion: 0 }
    case 'libp2p': throw new Error(networkAvailability('libp2p')!)
  }
}
