import { type SQL, sql } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import type { Db } from '../db/client.js'
import { isQueryCanceled } from '../db/errors.js'
import { searchStatement } from '../db/search-pool.js'
import type { SearchPage } from '../wire.js'
import { readableRooms, type Viewer } from './access.js'
import { ChatError } from './errors.js'
import { type MessageRecord, messageColumns, toMessage } from './messages.js'
import { cancelled } from './search-admission.js'
import { checkPrefixes, checkSearchSize, parseSearch, toTsquery } from './search-query.js'
import { escapeSnippet, SNIPPET_OPTIONS, snippetSource } from './snippet.js'

export type SearchSort = 'relevance' | 'recent'

/** Where the previous page ended: its last result's sort key. */
export type SearchCursor =
  { sort: 'relevance'; rank: string; id: number } | { sort: 'recent'; at: string; id: number }

export interface SearchRequest {
  q: string
  sort: SearchSort
  limit: number
  roomId?: number
  from?: string
  before?: Date
  after?: Date
  cursor?: SearchCursor
}

const CURSOR =
  /^(relevance|recent)\|([0-9.e+-]{1,40}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|([1-9]\d{0,15})$/
const RANK = /^\d+(\.\d+)?(e[+-]?\d+)?$/

export function encodeSearchCursor(cursor: SearchCursor): string {
  const key = cursor.sort === 'relevance' ? cursor.rank : cursor.at
  return Buffer.from(`${cursor.sort}|${key}|${cursor.id}`).toString('base64url')
}

/** The cursor an earlier page handed out, or undefined when `text` is not one. */
export function parseSearchCursor(text: string): SearchCursor | undefined {
  const match = CURSOR.exec(Buffer.from(text, 'base64url').toString('utf8'))
  if (!match) return undefined
  const [, sort, key, id] = match as unknown as [string, SearchSort, string, string]
  let cursor: SearchCursor
  if (sort === 'relevance') {
    if (!RANK.test(key) || !Number.isFinite(Number(key))) return undefined
    cursor = { sort, rank: key, id: Number(id) }
  } else {
    // The regex admits 2026-02-31; PostgreSQL would not.
    const date = new Date(key)
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 23) !== key.slice(0, 23)) return undefined
    cursor = { sort, at: key, id: Number(id) }
  }
  return encodeSearchCursor(cursor) === text ? cursor : undefined
}

type ResultRow = MessageRecord & { room_name: string; snippet: string; sort_key: string }

/**
 * The viewer's messages matching `request.q`, best first or newest first. The rooms the
 * viewer may read are found first and each is probed on its own with the query's words
 * keyed by that room (room_query, sql/search.sql), which the index holds apart from every
 * other room's: a room they may not read is never searched and can change neither the
 * results nor how long they take to find. `search_vector @@ q` is the exact check (phrases,
 * exclusions) on each row the index gives. `db` is the search pool
 * (db/search-pool.ts), whose statement_timeout bounds each statement; when `signal`
 * aborts, the statement running is cancelled in PostgreSQL too.
 *
 * Over shards, each is searched for the same page and the pages merged: rank (or time) and
 * message id order results the same way on every shard, and message ids are unique across
 * them, so one cursor resumes them all.
 */
export async function searchMessages(
  dbs: Db | Db[],
  viewer: Viewer,
  config: string,
  request: SearchRequest,
  signal?: AbortSignal,
): Promise<SearchPage> {
  if (request.cursor && request.cursor.sort !== request.sort) {
    throw new ChatError('invalid_query', 'This cursor belongs to a search in another sort order')
  }
  const relevance = request.sort === 'relevance'
  const pages = await Promise.all([dbs].flat().map((db) => searchRows(db, viewer, config, request, signal)))
  const order = relevance
    ? (a: ResultRow, b: ResultRow) => Number(b.sort_key) - Number(a.sort_key)
    : (a: ResultRow, b: ResultRow) => (a.sort_key < b.sort_key ? 1 : a.sort_key > b.sort_key ? -1 : 0)
  const rows = pages.flat().sort((a, b) => order(a, b) || Number(b.id) - Number(a.id))
  const hasMore = rows.length > request.limit
  const kept = hasMore ? rows.slice(0, request.limit) : rows
  const last = kept.at(-1)
  const next: SearchCursor | undefined =
    hasMore && last
      ? relevance
        ? { sort: 'relevance', rank: last.sort_key, id: Number(last.id) }
        : { sort: 'recent', at: last.sort_key, id: Number(last.id) }
      : undefined
  return {
    results: kept.map((row) => ({
      message: toMessage(row),
      room: { id: Number(row.room_id), name: row.room_name },
      snippet: escapeSnippet(row.snippet),
    })),
    next_cursor: next ? encodeSearchCursor(next) : null,
  }
}

/** One database's part of a search page: up to `limit + 1` results after the cursor, best first. */
async function searchRows(
  db: Db,
  viewer: Viewer,
  config: string,
  request: SearchRequest,
  signal?: AbortSignal,
): Promise<ResultRow[]> {
  const query = await compileQuery(db, config, request.q, signal)
  const q = sql`${query}::tsquery`
  const relevance = request.sort === 'relevance'
  const key = relevance ? sql`ts_rank(m.search_vector, ${q})` : sql`m.created_at`
  const conditions: SQL[] = []
  if (request.from !== undefined) conditions.push(sql`and m.user_id = ${request.from}`)
  if (request.before) conditions.push(sql`and m.created_at < ${request.before.toISOString()}::timestamptz`)
  if (request.after) conditions.push(sql`and m.created_at > ${request.after.toISOString()}::timestamptz`)
  const cursor = request.cursor
  if (cursor?.sort === 'relevance')
    conditions.push(sql`and (${key}, m.id) < (${cursor.rank}::real, ${cursor.id}::bigint)`)
  if (cursor?.sort === 'recent')
    conditions.push(sql`and (${key}, m.id) < (${cursor.at}::timestamptz, ${cursor.id}::bigint)`)
  const room = request.roomId === undefined ? sql`` : sql`and r.id = ${request.roomId}`
  // As in the lobby (chat/rooms.ts), a direct message is searched by its two people only,
  // admins included: an admin may open another pair's conversation, but does not come
  // across it by searching.
  const ownDms = sql`and (r.kind = 'room' or r.id in (select room_id from room_members where user_id = ${viewer.userId}))`
  const sortKey = relevance
    ? sql`ts_rank(m.search_vector, ${q})::text`
    : sql`to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
  // No m.room_id = r.id in the probe: the keyed match holds only for room r's rows (every
  // key it needs starts with r's id, and a query that could match a row without any of its
  // words is refused by compileQuery), and given both, PostgreSQL ANDs in a scan of the
  // room's whole range of a btree index, which doubled the time of a search.
  return execute<ResultRow>(
    db,
    signal,
    sql`
    select page.*, ts_headline(${config}::regconfig, ${snippetSource(sql`page.body`)}, ${q}, ${SNIPPET_OPTIONS}) as snippet
    from (
      select hit.*, r.name as room_name
      from (select r.id, r.name from ${readableRooms(viewer)} r where true ${room} ${ownDms}) r
      cross join lateral (
        select ${messageColumns}, ${key} as sort_value, ${sortKey} as sort_key
        from messages m
        where m.search_vector @@ ${q}
          and room_lexemes(m.room_id, m.search_vector) @@ room_query(r.id, ${q})
          and m.deleted_at is null
          ${sql.join(conditions, sql` `)}
        order by sort_value desc, m.id desc
        limit ${request.limit + 1}
      ) hit
      order by hit.sort_value desc, hit.id desc
      limit ${request.limit + 1}
    ) page
    order by page.sort_value desc, page.id desc`,
  )
}

/**
 * The query as PostgreSQL's canonical tsquery text, refused when it holds no word to look
 * up: one with no lexemes at all, or only exclusions (`-word`), which would match nearly
 * every message of every readable room and use no index.
 */
async function compileQuery(db: Db, config: string, text: string, signal?: AbortSignal): Promise<string> {
  const expression = parseSearch(text)
  checkSearchSize(expression)
  const rows = await execute<{ query: string; nodes: number; tree: string }>(
    db,
    signal,
    sql`
    select q::text as query, numnode(q) as nodes, querytree(q) as tree
    from (select ${toTsquery(expression, config)} as q) s`,
  )
  const row = rows[0]
  if (!row || Number(row.nodes) === 0) {
    throw new ChatError('invalid_query', 'The query has no words to search for')
  }
  if (row.tree === 'T') {
    throw new ChatError('invalid_query', 'The query must look for at least one word, not only exclude some')
  }
  checkPrefixes(row.query)
  return row.query
}

const dialect = new PgDialect()

/**
 * `query` on postgres.js directly rather than through drizzle's execute, which keeps the
 * driver's query object to itself: its cancel() is what stops the statement in PostgreSQL
 * when the client goes away. Without it the search would run on to its end, holding a
 * connection of the search pool for a client that is gone.
 */
async function execute<Row>(db: Db, signal: AbortSignal | undefined, query: SQL): Promise<Row[]> {
  if (signal?.aborted) throw cancelled()
  const { sql: text, params } = dialect.sqlToQuery(query)
  const pending = searchStatement<Row>(db, text, params)
  const cancel = () => pending.cancel()
  signal?.addEventListener('abort', cancel, { once: true })
  try {
    return await pending.rows
  } catch (error) {
    if (!isQueryCanceled(error)) throw error
    if (signal?.aborted) throw cancelled()
    throw new ChatError(
      'search_timeout',
      'The search took too long; narrow it with more words, a room, a person or a time range',
    )
  } finally {
    signal?.removeEventListener('abort', cancel)
  }
}
