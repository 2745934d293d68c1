// A DATABASE_URL may name several servers, `postgres://u@h1:5432,h2:5433/parley`, as libpq's
// and postgres.js's do: the client tries them in turn. The WHATWG URL parser refuses the
// comma list, so the hosts are split off here and the rest is parsed as one URL.

const SCHEME = /^postgres(ql)?:\/\//

/** The `host:port` entries of the URL's authority, in order. */
function splitHosts(url: string): { before: string; hosts: string[]; after: string } {
  const start = url.indexOf('://') + 3
  const end = url.slice(start).search(/[/?#]/)
  const authority = end === -1 ? url.slice(start) : url.slice(start, start + end)
  const at = authority.lastIndexOf('@')
  const hostsStart = start + at + 1
  const hostsEnd = start + authority.length
  return {
    before: url.slice(0, hostsStart),
    hosts: url.slice(hostsStart, hostsEnd).split(','),
    after: url.slice(hostsEnd),
  }
}

/** Whether `text` is a postgres:// URL, with one host or several, each a valid URL host. */
export function isDatabaseUrl(text: string): boolean {
  if (!SCHEME.test(text)) return false
  const { before, hosts, after } = splitHosts(text)
  return hosts.every((host) => {
    if (host === '') return false
    try {
      new URL(`${before}${host}${after}`)
      return true
    } catch {
      return false
    }
  })
}

/** One URL per server the URL names, in its order, each with the rest of the URL. */
export function hostUrls(url: string): string[] {
  const { before, hosts, after } = splitHosts(url)
  return hosts.map((host) => `${before}${host}${after}`)
}

/** Whether the URL names more than one server. */
export function namesSeveralHosts(url: string): boolean {
  return SCHEME.test(url) && splitHosts(url).hosts.length > 1
}

/**
 * The postgres.js option that makes a client settle only on the primary among several
 * hosts. `primary` asks `in_hot_standby` (PostgreSQL 14+ reports it at connection, older
 * servers are asked pg_is_in_recovery()); `read-write` would not do: it reads
 * `default_transaction_read_only`, which a hot standby leaves off. With a single host the
 * option is left out, so a standby named alone is reached and reported (the listener says
 * it is in recovery) rather than refused with a bare `CONNECTION_DESTROYED`.
 */
export function primaryOnly(url: string): { target_session_attrs?: 'primary' } {
  return namesSeveralHosts(url) ? { target_session_attrs: 'primary' } : {}
}

/** The same URL with database `name`, every host kept. */
export function withDatabase(url: string, name: string): string {
  const { before, hosts, after } = splitHosts(url)
  const single = new URL(`${before}${hosts[0]}${after}`)
  single.pathname = `/${name}`
  const { before: head, after: tail } = splitHosts(single.toString())
  return `${head}${hosts.join(',')}${tail}`
}

/**
 * The URL with its hosts rotated left `by` places. postgres.js starts each new client at the
 * first host, and a host that swallows packets fails only at connect_timeout, with no try at
 * the next: a client made afresh for each attempt would knock on the same dead host forever.
 */
export function rotateHosts(url: string, by: number): string {
  const { before, hosts, after } = splitHosts(url)
  const shift = by % hosts.length
  return `${before}${[...hosts.slice(shift), ...hosts.slice(0, shift)].join(',')}${after}`
}
