/**
 * The libp2p stack a node runs: a transport, and (for the transports that need them) a connection encrypter and a
 * stream muxer. Written `tcp+noise+yamux`, `websockets+tls+mplex`, or `quic` alone.
 *
 * QUIC brings its own TLS 1.3 handshake (authenticating the libp2p PeerId, as Noise does over TCP) and its own stream
 * multiplexing, so a QUIC stack names neither: `quic+noise` or `quic+tls+yamux` is refused rather than silently
 * ignored, because a benchmark row labelled with an encrypter that never ran would be a lie.
 */
import type { Libp2pInit } from 'libp2p'
import { ConfigError } from '../../core/errors.ts'
import { coalescingWrites } from './coalesced-writes.ts'
import { halfWindowUpdates } from './yamux-window-updates.ts'

export const TRANSPORTS = ['tcp', 'websockets', 'quic'] as const
export const ENCRYPTERS = ['noise', 'tls'] as const
/** `mplex` is deprecated in the libp2p specs (no backpressure per stream) but still maintained for libp2p 3. */
export const MUXERS = ['yamux', 'mplex'] as const

export type TransportName = typeof TRANSPORTS[number]
export type EncrypterName = typeof ENCRYPTERS[number]
export type MuxerName = typeof MUXERS[number]

/** A stack with its defaults filled in: `encrypter` and `muxer` are null exactly for QUIC. */
export type Libp2pStack =
  | { readonly transport: 'tcp' | 'websockets'; readonly encrypter: EncrypterName; readonly muxer: MuxerName }
  | { readonly transport: 'quic'; readonly encrypter: null; readonly muxer: null }

/** What every node ran before stacks were a choice, and still the default. */
export const DEFAULT_STACK: Libp2pStack = { transport: 'tcp', encrypter: 'noise', muxer: 'yamux' }

/** Why QUIC takes no encrypter or muxer, for every message that refuses one. */
export const QUIC_BRINGS_ITS_OWN = 'quic brings its own encryption (TLS 1.3) and stream multiplexing: leave out the encrypter and muxer'

/** How a stack may be written down in cluster.json: the parts, each optional (defaults: tcp, noise, yamux). */
export interface StackParts {
  readonly transport?: string
  readonly encrypter?: string
  readonly muxer?: string
}

function oneOf<T extends string>(values: readonly T[], value: string, field: string): T {
  if (!(values as readonly string[]).includes(value)) {
    throw new ConfigError(field, `expected one of ${values.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return value as T
}

/** Fill in the defaults and refuse what cannot run; `field` prefixes the names in errors (e.g. `stack`). */
export function resolveStack(parts: StackParts, field = 'stack'): Libp2pStack {
  const transport = oneOf(TRANSPORTS, parts.transport ?? DEFAULT_STACK.transport, `${field}.transport`)
  if (transport === 'quic') {
    if (parts.encrypter !== undefined) throw new ConfigError(`${field}.encrypter`, QUIC_BRINGS_ITS_OWN)
    if (parts.muxer !== undefined) throw new ConfigError(`${field}.muxer`, QUIC_BRINGS_ITS_OWN)
    return { transport, encrypter: null, muxer: null }
  }
  return {
    transport,
    encrypter: oneOf(ENCRYPTERS, parts.encrypter ?? DEFAULT_STACK.encrypter!, `${field}.encrypter`),
    muxer: oneOf(MUXERS, parts.muxer ?? DEFAULT_STACK.muxer!, `${field}.muxer`),
  }
}

/**
 * Parse the short form: `tcp+noise+yamux`, `tcp+tls` (muxer defaulted), `websockets`, `quic`. The parts are
 * recognised by name, so their order after the transport does not matter.
 */
export function parseStack(text: string, field = 'stack'): Libp2pStack {
  const [transport, ...rest] = text.trim().split('+')
  if (transport === undefined || transport === '') throw new ConfigError(field, `expected a stack such as tcp+noise+yamux or quic, got ${JSON.stringify(text)}`)
  const parts: { transport: string; encrypter?: string; muxer?: string } = { transport }
  for (const part of rest) {
    if ((ENCRYPTERS as readonly string[]).includes(part) && parts.encrypter === undefined) parts.encrypter = part
    else if ((MUXERS as readonly string[]).includes(part) && parts.muxer === undefined) parts.muxer = part
    else throw new ConfigError(field, `${JSON.stringify(part)} in ${JSON.stringify(text)} is not an encrypter (${ENCRYPTERS.join(', ')}) or a muxer (${MUXERS.join(', ')}), or is named twice`)
  }
  return resolveStack(parts, field)
}

/** The short form, as parseStack reads it and reports print it. */
export function stackName(stack: Libp2pStack): string {
  return stack.transport === 'quic' ? 'quic' : `${stack.transport}+${stack.encrypter}+${stack.muxer}`
}

/** The parts as cluster.json stores them (QUIC's absent ones left out). */
export function stackParts(stack: Libp2pStack): StackParts {
  return stack.transport === 'quic' ? { transport: 'quic' } : { ...stack }
}

/** The libp2p multiaddr a node of this stack listens on at host:port. */
export function listenAddress(stack: Libp2pStack, host: string, port: number): string {
  const ip = host.includes(':') ? 'ip6' : 'ip4'
  switch (stack.transport) {
    case 'tcp': return `/${ip}/${host}/tcp/${port}`
    case 'websockets': return `/${ip}/${host}/tcp/${port}/ws`
    case 'quic': return `/${ip}/${host}/udp/${port}/quic-v1`
  }
}

/** The shape of a listen address for each transport (for validation). */
export const ADDRESS_PATTERNS: Readonly<Record<TransportName, { readonly pattern: RegExp; readonly example: string }>> = {
  tcp: { pattern: /^\/ip[46]\/[^/]+\/tcp\/\d+$/, example: '/ip4/127.0.0.1/tcp/7001' },
  websockets: { pattern: /^\/ip[46]\/[^/]+\/tcp\/\d+\/ws$/, example: '/ip4/127.0.0.1/tcp/7001/ws' },
  quic: { pattern: /^\/ip[46]\/[^/]+\/udp\/\d+\/quic-v1$/, example: '/ip4/127.0.0.1/udp/7001/quic-v1' },
}

/** The port kind a transport listens on, for tools that look for free ports. */
export function portKind(stack: Libp2pStack): 'tcp' | 'udp' {
  return stack.transport === 'quic' ? 'udp' : 'tcp'
}

/**
 * The libp2p modules for createLibp2p. Only the chosen stack's packages are loaded (QUIC's native binding, TLS's X.509
 * and WebCrypto code are large): a replica process starts as fast as before on the default stack.
 */
export async function stackModules(stack: Libp2pStack): Promise<Required<Pick<Libp2pInit, 'transports' | 'connectionEncrypters' | 'streamMuxers'>>> {
  switch (stack.transport) {
    case 'quic': {
      const { quic } = await import('@chainsafe/libp2p-quic')
      return { transports: [quic()], connectionEncrypters: [], streamMuxers: [] }
    }
    case 'tcp':
    case 'websockets': {
      const transport = stack.transport === 'tcp' ? (await import('@libp2p/tcp')).tcp() : (await import('@libp2p/websockets')).webSockets()
      // One socket write per send: coalesced-writes.ts says why.
      const encrypter = coalescingWrites(stack.encrypter === 'noise' ? (await import('@chainsafe/libp2p-noise')).noise() : (await import('@libp2p/tls')).tls())
      // Yamux window updates at half the window, not per frame: yamux-window-updates.ts says why.
      const muxer = stack.muxer === 'yamux' ? halfWindowUpdates((await import('@chainsafe/libp2p-yamux')).yamux()) : (await import('@libp2p/mplex')).mplex()
      return { transports: [transport], connectionEncrypters: [encrypter], streamMuxers: [muxer] }
    }
  }
}
