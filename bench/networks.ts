/**
 * The `network` dimension of a sweep. 'lan' and 'wan' are simulated (deterministic, virtual time); 'libp2p' runs a
 * real cluster on loopback, each replica its own OS process and the load from a separate process (bench/live/: TCP +
 * Noise + Yamux on 127.0.0.1, file storage), measured in wall-clock time. Real runs cover what a real cluster can do without injected faults: fault-free, closed loop.
 */
import type { SimClusterOptions } from '../net/sim/cluster.ts'
import { THREE_REGION_WAN, type RegionTopology } from '../net/sim/latency.ts'
import type { FaultKind, LoadMode, NetworkName } from './config.ts'

/** One-way latency within a LAN (the simulator's default link model, stated here so reports can quote it). */
export const LAN_LATENCY = { kind: 'uniform', minMs: 0.2, maxMs: 1 } as const
/** Per-hop jitter on top of rtt/2 between regions. */
export const WAN_JITTER = { kind: 'uniform', minMs: 0, maxMs: 0.5 } as const

export const WAN_TOPOLOGY: RegionTopology = THREE_REGION_WAN

/** Replica i sits in region i mod k (5 replicas over 3 regions: 2 + 2 + 1); clients sit in region 0 ('wan'). */
export function wanPlacement(n: number, topology: RegionTopology = WAN_TOPOLOGY): number[] {
  return Array.from({ length: n }, (_, i) => i % topology.names.length)
}

/** Networks whose runs are real (wall-clock, not reproducible) rather than simulated. */
export function isLiveNetwork(network: NetworkName): boolean {
  return network === 'libp2p'
}

/** null when runs on this network can be made, else why not. Every network is available. */
export function networkAvailability(_network: NetworkName): string | null {
  return null
}

/** null when a run of this fault kind and load mode can be made on `network`, else why not (a skip reason). */
export function liveRunSupport(network: NetworkName, fault: FaultKind, mode: LoadMode): string | null {
  if (!isLiveNetwork(network)) return null
  if (fault === 'crash-leader') {
    return 'crash faults are not supported over libp2p in the sweep; use consensus chaos (crashes and partitions on real processes)'
  }
  if (fault.startsWith('byzantine')) return 'Byzantine replicas are not supported over libp2p in the sweep; they run in the simulator'
  if (fault !== 'none') return `fault kind ${fault} is not supported over libp2p in the sweep`
  if (mode === 'open') return 'open-loop load is not supported over libp2p in the sweep (closed loop only)'
  return null
}

/** 'wan-spread': client i sits in region i mod k, so every region has clients (leaderless protocols serve them locally). */
export function spreadClientPlacement(clients: number, topology: RegionTopology = WAN_TOPOLOGY): number[] {
  return Array.from({ length: clients }, (_, i) => i % topology.names.length)
}

export function simNetworkOptions(network: NetworkName, n: number, clients: number): NonNullable<SimClusterOptions['network']> {
  switch (network) {
    case 'lan': return { latency: LAN_LATENCY }
    case 'wan': return { latency: WAN_JITTER, regions: WAN_TOPOLOGY, replicaRegions: wanPlacement(n), clientRegion: 0 }
    case 'wan-spread': return {
      latency: WAN_JITTER, regions: WAN_TOPOLOGY, replicaRegions: wanPlacement(n), clientRegions: spreadClientPlacement(clients),
    }
    case 'libp2p': throw new Error('network libp2p is not simulated: its runs go through bench/live/run-live.ts')
  }
}
