import type { Sql, TransactionSql } from 'postgres'
import { readableRoom, type Viewer } from '../chat/access.js'
import { ChatError, roomNotFound } from '../chat/errors.js'
import type { Db } from '../db/client.js'
import { isoText } from '../db/sql.js'
import { checkDestination, parseEndpointUrl, UrlRefusedError } from './address.js'
import type { WebhookEventType } from './events.js'
import { newSecret } from './signing.js'
import type { Webhook, WebhookDelivery } from './wire.js'

// Registering, changing and removing webhook endpoints. An endpoint is its owner's: it and
// admins may see and change it, and to anyone else it does not exist (404, as a private
// room). It follows rooms its owner manages (sql/webhooks.sql, parley_webhook_rooms).

type Executor = Sql | TransactionSql

export interface EndpointInput {
  url: string
  /** Room ids, or 'all'. */
  rooms: number[] | 'all'
  events: WebhookEventType[]
  enabled?: boolean
}

export interface EndpointLimits {
  perUser: number
  allowPrivate: boolean
  rotationGraceMs: number
}

type EndpointRow = {
  id: string
  owner_id: string
  url: string
  rooms: string[] | null
  events: WebhookEventType[]
  enabled: boolean
  disabled_reason: string | null
  previous_secret_expires_at: string | null
  created_at: string
  updated_at: string
}

const ENDPOINT_COLUMNS = `id, owner_id, url, rooms, events, enabled, disabled_reason,
  ${isoText('previous_secret_expires_at')} as previous_secret_expires_at,
  ${isoText('created_at')} as created_at, ${isoText('updated_at')} as updated_at`

export const webhookNotFound = (id: number) =>
  new ChatError('webhook_not_found', `Webhook ${id} does not exist`)

export function toWebhook(row: EndpointRow): Webhook {
  return {
    id: Number(row.id),
    owner_id: row.owner_id,
    url: row.url,
    rooms: row.rooms === null ? 'all' : row.rooms.map(Number),
    events: row.events,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    previous_secret_expires_at: row.previous_secret_expires_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

/** The URL as it will be stored, or invalid_url / url_not_allowed. */
async function checkedUrl(text: string, allowPrivate: boolean): Promise<string> {
  try {
    const url = parseEndpointUrl(text)
    await checkDestination(url, allowPrivate)
    return url.href
  } catch (error) {
    if (!(error instanceof UrlRefusedError)) throw error
    throw new ChatError(error.malformed ? 'invalid_url' : 'url_not_allowed', `url ${error.reason}`)
  }
}

/**
 * Refuses rooms the viewer may not follow: 404 for a room it may not see (as everywhere),
 * 403 for one it sees but does not manage, or a direct message.
 */
async function requireFollowable(db: Db, viewer: Viewer, rooms: number[]): Promise<void> {
  const sql = db.$client
  const allowed = new Set(
    (
      await sql<{ id: string }[]>`
        select id from parley_webhook_rooms(${viewer.userId}, ${viewer.isAdmin}) where id = any(${rooms}::bigint[])`
    ).map((row) => Number(row.id)),
  )
  for (const id of rooms) {
    if (allowed.has(id)) continue
    // The one question chat/access.ts asks, for the same 404 as every other room endpoint.
    const access = await readableRoom(db, id, viewer)
    if (!access) throw roomNotFound(id)
    throw new ChatError(
      'forbidden',
      `Webhooks follow rooms their owner manages, not a direct message: room ${id}`,
    )
  }
}

/**
 * Lanes for the rooms the endpoint follows now, starting at each room's present: it is sent
 * what happens after it was registered. Existing lanes keep their place.
 */
async function addLanes(sql: Executor, endpointId: number, viewer: Viewer, rooms: number[] | 'all') {
  await sql`
    insert into webhook_lanes (endpoint_id, room_id, lane, cursor)
    select ${endpointId}, r.id, l.lane,
           case l.lane when 'changes' then r.last_cursor else coalesce(h.last_cursor, 0) end
      from parley_webhook_rooms(${viewer.userId}, ${viewer.isAdmin}) r
      cross join (values ('changes'), ('log')) as l(lane)
      left join room_log_heads h on h.room_id = r.id
     where ${rooms === 'all'} or r.id = any(${rooms === 'all' ? [] : rooms}::bigint[])
    on conflict do nothing`
}

/**
 * Registers an endpoint owned by the viewer; its secret is returned this once. At most
 * `perUser` per owner: the count and the insert run under a lock of the owner's, so a burst
 * of parallel creations cannot pass it.
 */
export async function createEndpoint(db: Db, viewer: Viewer, input: EndpointInput, limits: EndpointLimits) {
  const sql = db.$client
  const url = await checkedUrl(input.url, limits.allowPrivate)
  if (input.rooms !== 'all') await requireFollowable(db, viewer, input.rooms)
  const secret = newSecret()
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${`parley.webhooks:${viewer.userId}`}, 0))`
    const [owned] = await tx<{ n: number }[]>`
      select count(*)::int as n from webhook_endpoints where owner_id = ${viewer.userId}`
    if ((owned?.n ?? 0) >= limits.perUser) {
      throw new ChatError('too_many_webhooks', `A user may own at most ${limits.perUser} webhooks`)
    }
    const rooms = input.rooms === 'all' ? null : [...new Set(input.rooms)]
    const [row] = await tx.unsafe<EndpointRow[]>(
      `insert into webhook_endpoints (owner_id, owner_admin, url, rooms, events, enabled, secret)
       values ($1, $2, $3, $4::bigint[], $5::text[], $6, $7) returning ${ENDPOINT_COLUMNS}`,
      [
        viewer.userId,
        viewer.isAdmin,
        url,
        rooms,
        [...new Set(input.events)],
        input.enabled ?? true,
        secret,
      ] as never[],
    )
    if (!row) throw new Error('insert returned no row')
    await addLanes(tx, Number(row.id), viewer, input.rooms)
    return { ...toWebhook(row), secret }
  })
}

/** The endpoint if the viewer owns it or is an admin, else webhook_not_found. */
async function ownedRow(sql: Executor, viewer: Viewer, id: number, lock = false): Promise<EndpointRow> {
  const [row] = await sql.unsafe<EndpointRow[]>(
    `select ${ENDPOINT_COLUMNS} from webhook_endpoints
      where id = $1 and (owner_id = $2 or $3) ${lock ? 'for update' : ''}`,
    [id, viewer.userId, viewer.isAdmin] as never[],
  )
  if (!row) throw webhookNotFound(id)
  return row
}

export async function getEndpoint(sql: Sql, viewer: Viewer, id: number): Promise<Webhook> {
  return toWebhook(await ownedRow(sql, viewer, id))
}

/** A page of the viewer's endpoints (every endpoint, for an admin), by id. */
export async function listEndpoints(sql: Sql, viewer: Viewer, page: { limit: number; after?: number }) {
  const rows = await sql.unsafe<EndpointRow[]>(
    `select ${ENDPOINT_COLUMNS} from webhook_endpoints
      where (owner_id = $1 or $2) and id > $3 order by id limit $4`,
    [viewer.userId, viewer.isAdmin, page.after ?? 0, page.limit + 1] as never[],
  )
  const more = rows.length > page.limit
  const kept = rows.slice(0, page.limit)
  return { webhooks: kept.map(toWebhook), nextCursor: more ? String(kept.at(-1)!.id) : null }
}

export interface EndpointChanges {
  url?: string
  rooms?: number[] | 'all'
  events?: WebhookEventType[]
  enabled?: boolean
}

/**
 * Changes an endpoint. Rooms it stops following lose their place; rooms it starts following
 * start at their present. Enabled again, it resumes where each room stopped, at once.
 */
export async function updateEndpoint(
  db: Db,
  viewer: Viewer,
  id: number,
  changes: EndpointChanges,
  limits: Pick<EndpointLimits, 'allowPrivate'>,
): Promise<Webhook> {
  const sql = db.$client
  await ownedRow(sql, viewer, id)
  const url = changes.url === undefined ? undefined : await checkedUrl(changes.url, limits.allowPrivate)
  const rooms = changes.rooms
  if (rooms !== undefined && rooms !== 'all') await requireFollowable(db, viewer, rooms)
  return sql.begin(async (tx) => {
    const before = await ownedRow(tx, viewer, id, true)
    // The rooms are followed with the owner's rights, whoever changes them.
    const owner: Viewer = { userId: before.owner_id, isAdmin: await ownerIsAdmin(tx, id) }
    if (rooms !== undefined) {
      const kept = rooms === 'all' ? null : [...new Set(rooms)]
      await tx`update webhook_endpoints set rooms = ${kept}::bigint[] where id = ${id}`
      if (kept)
        await tx`delete from webhook_lanes where endpoint_id = ${id} and room_id <> all(${kept}::bigint[])`
      await addLanes(tx, id, owner, rooms)
    }
    if (url !== undefined) await tx`update webhook_endpoints set url = ${url} where id = ${id}`
    if (changes.events !== undefined)
      await tx`update webhook_endpoints set events = ${[...new Set(changes.events)]}::text[] where id = ${id}`
    if (changes.enabled === true && !before.enabled) {
      await tx`update webhook_endpoints set enabled = true, disabled_reason = null, failing_since = null where id = ${id}`
      await tx`update webhook_lanes set attempts = 0, next_attempt_at = now() where endpoint_id = ${id}`
    } else if (changes.enabled === false && before.enabled) {
      await tx`update webhook_endpoints set enabled = false, disabled_reason = 'disabled over the API' where id = ${id}`
    }
    const [row] = await tx.unsafe<EndpointRow[]>(
      `update webhook_endpoints set updated_at = now() where id = $1 returning ${ENDPOINT_COLUMNS}`,
      [id] as never[],
    )
    return toWebhook(row!)
  })
}

async function ownerIsAdmin(sql: Executor, id: number): Promise<boolean> {
  const [row] = await sql<
    { owner_admin: boolean }[]
  >`select owner_admin from webhook_endpoints where id = ${id}`
  return row?.owner_admin ?? false
}

export async function deleteEndpoint(sql: Sql, viewer: Viewer, id: number): Promise<void> {
  await ownedRow(sql, viewer, id)
  await sql`delete from webhook_endpoints where id = ${id}`
}

/**
 * A new secret, returned this once. The previous one keeps signing beside it for
 * `rotationGraceMs`, so receivers can switch without missing a delivery.
 */
export async function rotateSecret(sql: Sql, viewer: Viewer, id: number, rotationGraceMs: number) {
  await ownedRow(sql, viewer, id)
  const secret = newSecret()
  const [row] = await sql.unsafe<EndpointRow[]>(
    `update webhook_endpoints
        set previous_secret = case when $3::bigint > 0 then secret end,
            previous_secret_expires_at = case when $3::bigint > 0 then now() + $3 * interval '1 millisecond' end,
            secret = $2, updated_at = now()
      where id = $1 returning ${ENDPOINT_COLUMNS}`,
    [id, secret, rotationGraceMs] as never[],
  )
  if (!row) throw webhookNotFound(id)
  return { ...toWebhook(row), secret }
}

type DeliveryRow = {
  id: string
  message_id: string
  type: string
  room_id: string
  attempt: number
  status: number | null
  latency_ms: number
  error: string | null
  next_attempt_at: string | null
  created_at: string
}

/** A page of the endpoint's delivery attempts, newest first. */
export async function listDeliveries(
  sql: Sql,
  viewer: Viewer,
  id: number,
  page: { limit: number; before?: number },
): Promise<{ deliveries: WebhookDelivery[]; nextCursor: string | null }> {
  await ownedRow(sql, viewer, id)
  const rows = await sql.unsafe<DeliveryRow[]>(
    `select id, message_id, type, room_id, attempt, status, latency_ms, error,
            ${isoText('next_attempt_at')} as next_attempt_at, ${isoText('created_at')} as created_at
       from webhook_deliveries
      where endpoint_id = $1 and id < $2 order by id desc limit $3`,
    [id, page.before ?? Number.MAX_SAFE_INTEGER, page.limit + 1] as never[],
  )
  const more = rows.length > page.limit
  const kept = rows.slice(0, page.limit)
  return {
    deliveries: kept.map((row) => ({
      id: Number(row.id),
      webhook_id: row.message_id,
      type: row.type,
      room_id: Number(row.room_id),
      attempt: row.attempt,
      status: row.status,
      latency_ms: row.latency_ms,
      error: row.error,
      next_attempt_at: row.next_attempt_at,
      created_at: row.created_at,
    })),
    nextCursor: more ? String(kept.at(-1)!.id) : null,
  }
}
