import type { Logger } from 'pino'
import type { Db } from '../db/client.js'
import { isDatabaseUnavailable } from '../db/errors.js'
import type { Message } from '../wire.js'
import { readableRoom, type Viewer } from './access.js'
import { ChatError, messageNotFound, roomNotFound } from './errors.js'
import {
  findByClientId,
  MESSAGE_COLUMNS,
  type MessageRecord,
  type NewMessage,
  postMessage,
  retried,
  toMessage,
} from './messages.js'
import { type RateLimit, secondsUntilAllowed } from './rate-limit.js'

export interface PostingOptions {
  db: Db
  logger: Logger
  rateLimit: RateLimit
  /** A batch closes at this many messages… */
  batchMax: number
  /**
   * …or this long after its first message, whichever comes first; with 0, at the end of
   * the event loop's turn, so the posts that arrived together go together at no wait.
   */
  batchMs: number
}

/** A message to post, as the HTTP layer validated it, and who posts it. */
export interface PostRequest extends NewMessage {
  isAdmin: boolean
}

export interface Posted {
  message: Message
  /** False when a retried client_id returned the message stored the first time. */
  created: boolean
}

interface Pending {
  request: PostRequest
  resolve: (posted: Posted) => void
  reject: (error: unknown) => void
}

/** A request's fate in a batch, as the batch statement decides it. */
type Verdict = 'ok' | 'existing' | 'room_not_found' | 'message_not_found' | 'rate_limited'

type OutcomeRow = { [K in keyof MessageRecord]: MessageRecord[K] | null } & {
  kind: 'outcome' | 'inserted'
  client_id: string | null
  ord: string | null
  verdict: Verdict | null
  wait_ms: number | null
}

/** Batches in flight at once: one filling while another commits keeps the database busy. */
const MAX_IN_FLIGHT = 2

// One statement per batch, so one round trip and one commit for all its messages: NOTIFY's
// commit lock, the ceiling of notifying inserts, is taken once per batch. Per request, in
// one pass: may the user read the room, is its client_id already stored, does the parent of
// a reply exist, and is the user within the rate limit (their stored messages in the window
// plus their earlier ones in this batch). The accepted messages are inserted in room order
// after every parent is locked, so each batch takes its locks as every writer does (message
// rows, then rooms in ascending order) and batches of several processes never deadlock.
const POST_BATCH = `
  with req as (
    select * from json_to_recordset($1::text::json)
      as t(ord int, room_id bigint, user_id text, user_name text, body text,
           client_id text, reply_to bigint, is_admin boolean)
  ), parents as materialized (
    select p.room_id, p.seq from messages p
     where (p.room_id, p.seq) in (select room_id, reply_to from req where reply_to is not null)
     order by p.room_id, p.seq
       for update
  ), recent as (
    select u.user_id, w.n, w.oldest
      from (select distinct user_id from req) u
      cross join lateral (
        select count(*)::int as n, min(created_at) as oldest from (
          select created_at from messages
           where user_id = u.user_id and created_at > now() - $3::int * interval '1 millisecond'
           order by created_at desc limit greatest($2::int, 1)) x) w
  ), decided as (
    select r.*, prior.id as prior_id,
           case
             when room.id is null then 'room_not_found'
             when prior.id is not null then 'existing'
             when r.reply_to is not null and parent.seq is null then 'message_not_found'
             else 'ok'
           end as verdict
      from req r
      left join lateral parley_readable_rooms(r.user_id, r.is_admin) room on room.id = r.room_id
      left join messages prior on prior.user_id = r.user_id and prior.client_id = r.client_id
      left join parents parent on parent.room_id = r.room_id and parent.seq = r.reply_to
  ), ranked as (
    select d.*, recent.oldest,
           case
             when d.verdict = 'ok' and $2::int > 0
                  and recent.n + row_number() over (partition by d.user_id, d.verdict order by d.ord) > $2::int
               then 'rate_limited'
             else d.verdict
           end as outcome
      from decided d join recent on recent.user_id = d.user_id
  ), inserted as (
    insert into messages as m (room_id, seq, created_cursor, user_id, user_name, body, client_id, reply_to)
    select room_id, 0, 0, user_id, user_name, body, client_id, reply_to
      from ranked
     where outcome = 'ok' and (select count(*) from parents) >= 0
     order by room_id, ord
    returning ${MESSAGE_COLUMNS}, m.client_id
  )
  select 'outcome' as kind, k.ord, k.outcome as verdict,
         extract(epoch from (coalesce(k.oldest, now()) + $3::int * interval '1 millisecond' - now())) * 1000 as wait_ms,
         ${MESSAGE_COLUMNS}, m.client_id
    from ranked k left join messages m on m.id = k.prior_id
  union all
  select 'inserted', null, null, null, i.* from inserted i`

/**
 * Group commit for posting. Messages posted to this process at about the same moment are
 * decided and inserted together in one statement, and each request is answered once its
 * batch has committed, so a 201 means the message is stored, numbered and announced. A
 * batch closes at `batchMax` messages or `batchMs` after its first, whichever comes first,
 * and goes as soon as fewer than MAX_IN_FLIGHT batches are being stored: under load the
 * posts that arrive while batches commit gather into the next one by themselves.
 *
 * Everything a single post promises holds per message: one refused message (a room it may
 * not read, a rate limit reached, a client_id used in another room) is answered alone while
 * the others are stored. A batch that fails as a whole (a room removed between its check
 * and its insert, a client_id raced by another process) is posted again message by message,
 * each with its own checks, so no message fails for another's sake.
 */
export function createPosting({ db, logger, rateLimit, batchMax, batchMs }: PostingOptions) {
  let queue: Pending[] = []
  let cancelScheduled: (() => void) | undefined
  let inFlight = 0
  const counters = { batches: 0, messages: 0, batchesPostedOneByOne: 0 }

  function post(request: PostRequest): Promise<Posted> {
    return new Promise<Posted>((resolve, reject) => {
      queue.push({ request, resolve, reject })
      if (queue.length >= batchMax) dispatch()
      else cancelScheduled ??= schedule(dispatch)
    })
  }

  function schedule(work: () => void): () => void {
    if (batchMs > 0) {
      const timer = setTimeout(work, batchMs)
      return () => clearTimeout(timer)
    }
    const immediate = setImmediate(work)
    return () => clearImmediate(immediate)
  }

  function dispatch(): void {
    cancelScheduled?.()
    cancelScheduled = undefined
    while (inFlight < MAX_IN_FLIGHT && queue.length > 0) {
      const batch = queue.slice(0, batchMax)
      queue = queue.slice(batch.length)
      inFlight++
      void runBatch(batch).finally(() => {
        inFlight--
        // What arrived meanwhile has waited for this batch: it goes now.
        if (queue.length > 0) dispatch()
      })
    }
  }

  async function runBatch(batch: Pending[]): Promise<void> {
    // A client_id repeated within the batch is posted once; its repeats get what it got.
    const first = new Map<string, Pending>()
    const repeats = new Map<Pending, Pending[]>()
    const sent: Pending[] = []
    for (const pending of batch) {
      const { userId, clientId } = pending.request
      const key = clientId === undefined ? undefined : `${userId}\0${clientId}`
      const original = key === undefined ? undefined : first.get(key)
      if (original) repeats.get(original)!.push(pending)
      else {
        if (key !== undefined) first.set(key, pending)
        repeats.set(pending, [])
        sent.push(pending)
      }
    }
    let results: PromiseSettledResult<Posted>[]
    counters.batches++
    counters.messages += sent.length
    try {
      results = await postTogether(sent.map((pending) => pending.request))
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        for (const pending of batch) pending.reject(error)
        return
      }
      logger.warn(
        { err: error, messages: sent.length },
        'a posting batch failed; posting its messages one by one',
      )
      counters.batchesPostedOneByOne++
      results = []
      for (const pending of sent) results.push(await settle(postAlone(db, pending.request, rateLimit)))
    }
    sent.forEach((pending, i) => {
      const result = results[i]!
      answer(pending, result)
      for (const repeat of repeats.get(pending)!) {
        answer(
          repeat,
          result.status === 'fulfilled'
            ? settleNow(() => retried(result.value.message, repeat.request))
            : result,
        )
      }
    })
  }

  async function postTogether(requests: PostRequest[]): Promise<PromiseSettledResult<Posted>[]> {
    const json = JSON.stringify(
      requests.map((request, ord) => ({
        ord,
        room_id: request.roomId,
        user_id: request.userId,
        user_name: request.userName,
        body: request.body,
        client_id: request.clientId ?? null,
        reply_to: request.replyTo ?? null,
        is_admin: request.isAdmin,
      })),
    )
    const rows = (await db.$client.unsafe(POST_BATCH, [json, rateLimit.count, rateLimit.windowMs], {
      prepare: true,
    })) as unknown as OutcomeRow[]
    const inserted = matchInserted(requests, rows)
    const results: PromiseSettledResult<Posted>[] = []
    for (const row of rows) {
      if (row.kind !== 'outcome') continue
      const ord = Number(row.ord)
      const request = requests[ord]!
      results[ord] = settleNow(() => outcome(request, row, inserted.get(ord)))
    }
    return results
  }

  return { post, stats: () => ({ ...counters }) }
}

export type Posting = ReturnType<typeof createPosting>

function outcome(request: PostRequest, row: OutcomeRow, inserted: Message | undefined): Posted {
  switch (row.verdict) {
    case 'ok':
      if (!inserted) throw new Error('an accepted message was not inserted')
      return { message: inserted, created: true }
    case 'existing':
      return retried(toMessage(row as MessageRecord), request)
    case 'room_not_found':
      throw roomNotFound(request.roomId)
    case 'message_not_found':
      throw messageNotFound(request.replyTo ?? 0)
    default:
      throw rateLimitedFor(Math.max(1, Math.ceil(Number(row.wait_ms ?? 0) / 1000)))
  }
}

/**
 * Pairs inserted rows with the requests that asked for them. Rows carry no request number,
 * so they are matched on what was inserted; requests alike in every column are
 * interchangeable, and the earlier one gets the lower seq, as a lone post would have.
 */
function matchInserted(requests: PostRequest[], rows: OutcomeRow[]): Map<number, Message> {
  const keyOf = (
    roomId: number,
    userId: string,
    body: string,
    clientId: string | null,
    replyTo: number | null,
  ) => JSON.stringify([roomId, userId, body, clientId, replyTo])
  const waiting = new Map<string, number[]>()
  for (const row of rows) {
    if (row.kind !== 'outcome' || row.verdict !== 'ok') continue
    const ord = Number(row.ord)
    const r = requests[ord]!
    const key = keyOf(r.roomId, r.userId, r.body, r.clientId ?? null, r.replyTo ?? null)
    const list = waiting.get(key)
    if (list) list.push(ord)
    else waiting.set(key, [ord])
  }
  for (const list of waiting.values()) list.sort((a, b) => a - b)
  const messages = rows
    .filter((row) => row.kind === 'inserted')
    .map((row) => ({ message: toMessage(row as MessageRecord), clientId: row.client_id ?? null }))
    .sort((a, b) => a.message.seq - b.message.seq)
  const matched = new Map<number, Message>()
  for (const { message, clientId } of messages) {
    const key = keyOf(message.room_id, message.user_id, message.body, clientId, message.reply_to)
    const ord = waiting.get(key)?.shift()
    if (ord === undefined) throw new Error('an inserted message matches no request')
    matched.set(ord, message)
  }
  return matched
}

/** One message on its own, with the checks a batch makes, in the same order. */
async function postAlone(db: Db, request: PostRequest, rateLimit: RateLimit): Promise<Posted> {
  const viewer: Viewer = { userId: request.userId, isAdmin: request.isAdmin }
  if (!(await readableRoom(db, request.roomId, viewer))) throw roomNotFound(request.roomId)
  const original =
    request.clientId === undefined ? undefined : await findByClientId(db, request.userId, request.clientId)
  if (original) return retried(original, request)
  const wait = await secondsUntilAllowed(db, request.userId, rateLimit)
  if (wait > 0) throw rateLimitedFor(wait)
  return postMessage(db, request)
}

const rateLimitedFor = (seconds: number) =>
  new ChatError('rate_limited', `Too many messages; try again in ${seconds} s`, seconds)

function answer(pending: Pending, result: PromiseSettledResult<Posted>): void {
  if (result.status === 'fulfilled') pending.resolve(result.value)
  else pending.reject(result.reason)
}

function settleNow<T>(work: () => T): PromiseSettledResult<T> {
  try {
    return { status: 'fulfilled', value: work() }
  } catch (reason) {
    return { status: 'rejected', reason }
  }
}

function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  )
}
