import { lookup } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'

// Server-side request forgery: an endpoint's URL is the registrant's choice, and a request
// from inside the network to a loopback, private, link-local or cloud metadata address
// reaches what the outside must not. Such addresses are refused when the endpoint is
// registered and again at every delivery (DNS may answer differently later): the host is
// resolved, every address it has is checked, and the connection goes to the address that
// was checked, never to a second resolution. WEBHOOK_ALLOW_PRIVATE turns this off.

export const MAX_URL_LENGTH = 2048

const refused = new BlockList()
const IPV4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", the unspecified address
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space (carrier NAT; Alibaba's metadata at 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, and most clouds' metadata at 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
]
const IPV6: [string, number][] = [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['100::', 64], // discard
  ['fc00::', 7], // unique local (AWS's metadata at fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
]
for (const [network, prefix] of IPV4) refused.addSubnet(network, prefix, 'ipv4')
for (const [network, prefix] of IPV6) refused.addSubnet(network, prefix, 'ipv6')

/** A URL or address an endpoint may not have; `reason` is safe to show to its registrant. */
export class UrlRefusedError extends Error {
  constructor(
    readonly reason: string,
    /** The URL itself is malformed (400), rather than where it leads (422). */
    readonly malformed = false,
  ) {
    super(reason)
  }
}

/** An endpoint URL: absolute, http: or https:, no credentials, at most MAX_URL_LENGTH characters. */
export function parseEndpointUrl(text: string): URL {
  if (text.length > MAX_URL_LENGTH)
    throw new UrlRefusedError(`is longer than ${MAX_URL_LENGTH} characters`, true)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UrlRefusedError('is not an absolute URL', true)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UrlRefusedError('must be https: or http:', true)
  if (url.username || url.password) throw new UrlRefusedError('must not carry a user name or password', true)
  if (!url.hostname) throw new UrlRefusedError('has no host', true)
  return url
}

/** The 32 bits of an IPv4 address embedded in an IPv6 one (mapped ::ffff:a.b.c.d, or NAT64 64:ff9b::/96). */
function embeddedIpv4(address: string): string | undefined {
  const words = ipv6Words(address)
  if (!words) return undefined
  const mapped = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0)
  if (!mapped && !nat64) return undefined
  const [high, low] = [words[6]!, words[7]!]
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
}

/** The eight 16-bit words of an IPv6 address (zone removed), or undefined. */
function ipv6Words(address: string): number[] | undefined {
  let text = address.split('%')[0]!
  const tail: number[] = []
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const bytes = dotted[2]!.split('.').map(Number)
    tail.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!)
    text = `${dotted[1]}0:0`
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)))
  const left = parse(head)
  const right = rest === undefined ? [] : parse(rest)
  const fill = rest === undefined ? 0 : 8 - left.length - right.length
  const words = [...left, ...new Array<number>(fill).fill(0), ...right]
  if (words.length !== 8 || words.some((w) => Number.isNaN(w))) return undefined
  if (tail.length === 2) words.splice(6, 2, ...tail)
  return words
}

/** Whether a delivery may connect to `address` (an IP address, as DNS answers it). */
export function isRefusedAddress(address: string): boolean {
  const family = isIP(address)
  if (family === 4) return refused.check(address, 'ipv4')
  if (family !== 6) return true
  const v4 = embeddedIpv4(address)
  if (v4 !== undefined) return refused.check(v4, 'ipv4')
  return refused.check(address.split('%')[0]!, 'ipv6')
}

/** The host of `url` as an address or a name to resolve (brackets of an IPv6 literal removed). */
export const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1')

const refusal = (host: string, address: string) =>
  new UrlRefusedError(`${host} resolves to ${address}, a loopback, private, link-local or reserved address`)

/**
 * Resolves `host` and checks every address it has: all of them, since a client may connect
 * to any. The addresses, in DNS order.
 */
export function resolveChecked(host: string): Promise<{ address: string; family: number }[]> {
  if (isIP(host)) {
    if (isRefusedAddress(host)) return Promise.reject(refusal(host, host))
    return Promise.resolve([{ address: host, family: isIP(host) }])
  }
  return new Promise((resolve, reject) => {
    lookup(host, { all: true, verbatim: true }, (error, addresses) => {
      if (error || addresses.length === 0) return reject(new UrlRefusedError(`${host} does not resolve`))
      const bad = addresses.find((entry) => isRefusedAddress(entry.address))
      if (bad) return reject(refusal(host, bad.address))
      resolve(addresses)
    })
  })
}

/** Refuses a URL whose host leads where deliveries must not go (unless private addresses are allowed). */
export async function checkDestination(url: URL, allowPrivate: boolean): Promise<void> {
  if (!allowPrivate) await resolveChecked(hostOf(url))
}

/**
 * The `lookup` of every delivery's connection: the checked addresses only, so the socket
 * connects to what was checked. Node skips it for a literal address, which the sender
 * checks itself.
 */
export const checkedLookup: LookupFunction = (hostname, options, callback) => {
  resolveChecked(hostname).then(
    (addresses) => {
      const wanted = options.family === 4 || options.family === 6 ? options.family : undefined
      const usable = addresses.filter((entry) => wanted === undefined || entry.family === wanted)
      if (usable.length === 0) {
        callback(
          Object.assign(new Error(`${hostname} has no IPv${wanted} address`), { code: 'ENOTFOUND' }),
          '',
          0,
        )
      } else if (options.all) {
        ;(callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(
          null,
          usable,
        )
      } else {
        callback(null, usable[0]!.address, usable[0]!.family)
      }
    },
    (error: Error) => callback(Object.assign(error, { code: 'EADDRNOTALLOWED' }), '', 0),
  )
}
