import type { Logger } from 'pino'
import type { Db } from '../db/client.js'
import { isDatabaseUnavailable } from '../db/errors.js'
import { isoText } from '../db/sql.js'
import type { Message } from '../wire.js'
import { readableRoom, type Viewer } from './access.js'
import { ChatError, messageNotFound, mutedUntil, roomNotFound } from './errors.js'
import {
  findByClientId,
  MESSAGE_COLUMNS,
  type MessageRecord,
  type NewMessage,
  postMessage,
  retried,
  toMessage,
} from './messages.js'
import { createGroupCommit, settleNow } from './group-commit.js'
import { type RateLimit, requireToken, takeTokens } from './rate-limit.js'

export interface PostingOptions {
  db: Db
  /**
   * Where the posting limit takes its tokens, when not `db`: over shards, the one database
   * every shard's posting shares, so a user's limit holds whichever rooms they write to.
   */
  limits?: Db
  logger: Logger
  rateLimit: RateLimit
  /** A batch closes at this many messages (POST_BATCH_MAX)… */
  batchMax: number
  /** …or this long after its first (POST_BATCH_MS); see createGroupCommit. */
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

/** A request's fate in a batch, as the batch statement decides it. */
type Verdict =
  'ok' | 'existing' | 'room_not_found' | 'message_not_found' | 'muted' | 'rate_limited' | 'slow_mode'

type OutcomeRow = { [K in keyof MessageRecord]: MessageRecord[K] | null } & {
  kind: 'outcome' | 'inserted'
  client_id: string | null
  ord: string | null
  verdict: Verdict | null
  muted_until: string | null
  slow_wait: number | null
}

// One statement per batch, so one round trip and one commit for all its messages: NOTIFY's
// commit lock, the ceiling of notifying inserts, is taken once per batch. Per request, in
// one pass: may the user read the room (sql/access.sql), is its client_id already stored,
// does the parent of a reply exist, is the user muted there (parley_mute_of), and did the
// rate limit grant it (`allowed`, taken from the user's bucket just before,
// src/chat/rate-limit.ts). Then slow mode (parley_pace_posts, sql/moderation.sql) takes the
// slot of each (room, user) whose posts passed every other check, for the first of them;
// it is asked in this statement, so a post that fails gives its slot back. Only parents in
// rooms the poster may read are locked. The accepted messages are inserted in room order
// after every parent and every slot is locked, so each batch takes its locks as every
// writer does (message rows, then rooms in ascending order; slots, which only posts lock,
// in between) and batches of several processes never deadlock.
const POST_BATCH = `
  with req as (
    select * from json_to_recordset($1::text::json)
      as t(ord int, room_id bigint, user_id text, user_name text, body text,
           client_id text, reply_to bigint, is_admin boolean, allowed boolean, bot boolean)
  ), parents as materialized (
    select p.room_id, p.seq from messages p
     where (p.room_id, p.seq) in (
             select r.room_id, r.reply_to from req r
               join lateral parley_readable_rooms(r.user_id, r.is_admin) room on room.id = r.room_id
              where r.reply_to is not null)
     order by p.room_id, p.seq
       for update
  ), decided as (
    select r.*, prior.id as prior_id, ${isoText('mute.until')} as muted_until,
           case
             when room.id is null then 'room_not_found'
             when prior.id is not null then 'existing'
             when r.reply_to is not null and parent.seq is null then 'message_not_found'
             when mute.user_id is not null then 'muted'
             when not r.allowed then 'rate_limited'
             else 'ok'
           end as outcome
      from req r
      left join lateral parley_readable_rooms(r.user_id, r.is_admin) room on room.id = r.room_id
      left join lateral parley_mute_of(r.room_id, r.user_id) mute on not r.is_admin
      left join messages prior on prior.user_id = r.user_id and prior.client_id = r.client_id
      left join parents parent on parent.room_id = r.room_id and parent.seq = r.reply_to
  ), paced as materialized (
    select p.* from parley_pace_posts(
      (select array_agg(d.room_id order by d.ord) from decided d where d.outcome = 'ok' and not d.is_admin),
      (select array_agg(d.user_id order by d.ord) from decided d where d.outcome = 'ok' and not d.is_admin)) p
  ), judged as (
    select d.*, p.interval_seconds,
           case
             when d.outcome = 'ok' and p.room_id is not null
                  and (not p.admitted or row_number() over (
                         partition by d.room_id, d.user_id, d.outcome order by d.ord) > 1)
               then 'slow_mode'
             else d.outcome
           end as verdict,
           case when p.admitted then p.interval_seconds else p.wait_seconds end as slow_wait
      from decided d
      left join paced p on p.room_id = d.room_id and p.user_id = d.user_id and not d.is_admin
  ), inserted as (
    insert into messages as m (room_id, seq, created_cursor, user_id, user_name, body, client_id, reply_to, bot)
    select room_id, 0, 0, user_id, user_name, body, client_id, reply_to, bot
      from judged
     -- Always true, and there for its timing: a CTE's rows are produced only as a reader
     -- pulls them, so the joins above could lock parents or slots between inserts (rooms
     -- before messages, against every writer's order). These sub-selects run once before
     -- the first row is inserted and read parents and slots to the end, locking them first.
     where verdict = 'ok' and (select count(*) from parents) >= 0 and (select count(*) from paced) >= 0
     order by room_id, ord
    returning ${MESSAGE_COLUMNS}, m.client_id
  )
  select 'outcome' as kind, k.ord, k.verdict, k.muted_until, k.slow_wait, ${MESSAGE_COLUMNS}, m.client_id
    from judged k left join messages m on m.id = k.prior_id
  union all
  select 'inserted', null, null, null, null, i.* from inserted i`

/**
 * Posting by group commit (src/chat/group-commit.ts): messages posted to this process at
 * about the same moment are decided and inserted together in one statement, and each
 * request is answered once its batch has committed, so a 201 means the message is stored,
 * numbered and announced.
 *
 * Everything a single post promises holds per message: one refused message (a room it may
 * not read, a rate limit reached, a client_id used in another room) is answered alone while
 * the others are stored. A client_id repeated within a batch is posted once, and its repeats
 * get what it got. A batch that fails as a whole (a room removed between its check and its
 * insert, a client_id raced by another process) is posted again message by message, each
 * with its own checks; while the database is unreachable, every message fails with it.
 */
export function createPosting({ db, limits = db, logger, rateLimit, batchMax, batchMs }: PostingOptions) {
  const groupCommit = createGroupCommit<PostRequest, Posted>({
    logger,
    batchMax,
    batchMs,
    together: postTogether,
    alone: async (request) => {
      if (!charged.has(request))
        await requireToken(limits, 'post', request.userId, rateLimit, 'Too many messages')
      return postAlone(db, request)
    },
    failsEveryRequest: isDatabaseUnavailable,
    keyOf: ({ userId, clientId }) => (clientId === undefined ? undefined : `${userId}\0${clientId}`),
    repeat: (posted, request) => retried(posted.message, request),
  })

  // Requests a batch took a token for: posted again one by one, they do not take another.
  const charged = new WeakSet<PostRequest>()

  /**
   * Every request takes a token, refused ones too, so a flood of posts to rooms one may
   * not write in costs its sender as much as real ones. One statement for the batch's users.
   */
  async function grantTokens(
    requests: PostRequest[],
  ): Promise<{ allowed: boolean[]; waits: Map<string, number> }> {
    const asked = new Map<string, number>()
    for (const { userId } of requests) asked.set(userId, (asked.get(userId) ?? 0) + 1)
    const grants = await takeTokens(
      limits,
      'post',
      [...asked].map(([userId, n]) => ({ userId, n })),
      rateLimit,
    )
    const left = new Map([...grants].map(([userId, grant]) => [userId, grant.granted]))
    const allowed = requests.map((request) => {
      charged.add(request)
      const tokens = left.get(request.userId) ?? 0
      left.set(request.userId, tokens - 1)
      return tokens > 0
    })
    const waits = new Map([...grants].map(([userId, grant]) => [userId, Math.max(1, grant.waitSeconds)]))
    return { allowed, waits }
  }

  async function postTogether(requests: PostRequest[]): Promise<PromiseSettledResult<Posted>[]> {
    const { allowed, waits } = await grantTokens(requests)
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
        allowed: allowed[ord],
        bot: request.bot ?? false,
      })),
    )
    const rows = (await db.$client.unsafe(POST_BATCH, [json], { prepare: true })) as unknown as OutcomeRow[]
    const inserted = matchInserted(requests, rows)
    const results: PromiseSettledResult<Posted>[] = []
    for (const row of rows) {
      if (row.kind !== 'outcome') continue
      const ord = Number(row.ord)
      results[ord] = settleNow(() => outcome(requests[ord]!, row, inserted.get(ord), waits))
    }
    return results
  }

  return {
    post: groupCommit.submit,
    stats: () => {
      const { batches, requests, batchesDoneOneByOne } = groupCommit.stats()
      return { batches, messages: requests, batchesPostedOneByOne: batchesDoneOneByOne }
    },
  }
}

export type Posting = ReturnType<typeof createPosting>

function outcome(
  request: PostRequest,
  row: OutcomeRow,
  inserted: Message | undefined,
  waits: Map<string, number>,
): Posted {
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
    case 'muted':
      throw mutedUntil(row.muted_until)
    case 'slow_mode':
      throw slowModeFor(row.slow_wait ?? 1)
    default:
      throw rateLimitedFor(waits.get(request.userId) ?? 1)
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

/**
 * One message on its own (its token already taken), with the checks a batch makes, in the
 * same order. Its slow-mode slot is taken in a statement before the insert: should the
 * insert then fail, the slot stays taken, which errs on the side of the limit.
 */
async function postAlone(db: Db, request: PostRequest): Promise<Posted> {
  const viewer: Viewer = { userId: request.userId, isAdmin: request.isAdmin }
  const access = await readableRoom(db, request.roomId, viewer)
  if (!access) throw roomNotFound(request.roomId)
  const original =
    request.clientId === undefined ? undefined : await findByClientId(db, request.userId, request.clientId)
  if (original) return retried(original, request)
  if (access.muted) throw mutedUntil(access.muted.until)
  if (!request.isAdmin) {
    const [slot] = await paceOne(db, request.roomId, request.userId)
    if (slot && !slot.admitted) throw slowModeFor(slot.wait_seconds ?? 1)
  }
  return postMessage(db, request)
}

function paceOne(db: Db, roomId: number, userId: string) {
  return db.$client.unsafe<{ admitted: boolean; wait_seconds: number | null }[]>(
    'select admitted, wait_seconds from parley_pace_posts(array[$1::bigint], array[$2::text])',
    [roomId, userId],
  )
}

const rateLimitedFor = (seconds: number) =>
  new ChatError('rate_limited', `Too many messages; try again in ${seconds} s`, seconds)

const slowModeFor = (seconds: number) =>
  new ChatError('slow_mode', `This room is in slow mode; you may post again in ${seconds} s`, seconds)
