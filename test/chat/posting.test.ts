import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { type ChatError } from '../../src/chat/errors.js'
import { createPosting, type Posted, type PostRequest, type Posting } from '../../src/chat/posting.js'
import { createDb } from '../../src/db/client.js'
import { useTestDatabase } from '../support/fixtures.js'
import { range } from '../support/range.js'
import { until } from '../support/wait.js'

// Group commit (src/chat/posting.ts): messages posted together are decided and inserted in
// one statement, each answered as if it had been posted alone.

const database = useTestDatabase()
const processes: Posting[] = []
const pools: ReturnType<typeof createDb>[] = []
const logger = pino({ level: 'silent' })
const rateLimit = { count: 20, windowMs: 10_000 }

afterAll(async () => {
  for (const pool of pools) await pool.sql.end({ timeout: 1 })
})

/** A posting process of its own: its own pool, batches of up to `batchMax` within `batchMs`. */
function processWith(batchMax = 100, batchMs = 20): Posting {
  const pool = createDb(database.url, { max: 4 })
  pools.push(pool)
  const posting = createPosting({ db: pool.db, logger, rateLimit, batchMax, batchMs })
  processes.push(posting)
  return posting
}

/** Batches that failed as a whole and were posted message by message, in every process so far. */
function batchesPostedOneByOne(): number {
  return processes.reduce((sum, posting) => sum + posting.stats().batchesPostedOneByOne, 0)
}

let rooms = 0
async function newRoom(visibility: 'public' | 'private' = 'public'): Promise<number> {
  const [row] = await database.sql<{ id: string }[]>`
    insert into rooms (name, created_by, visibility) values (${`posting-${++rooms}`}, 'owner', ${visibility})
    returning id`
  return Number(row!.id)
}

const request = (
  roomId: number,
  userId: string,
  body: string,
  extra: Partial<PostRequest> = {},
): PostRequest => ({
  roomId,
  userId,
  userName: userId,
  isAdmin: false,
  body,
  ...extra,
})

/** Posts every request at the same moment and waits for every answer. */
const together = (posting: Posting, requests: PostRequest[]) =>
  Promise.allSettled(requests.map((r) => posting.post(r)))

const codeOf = (result: PromiseSettledResult<Posted>) =>
  result.status === 'rejected'
    ? (result.reason as ChatError).code
    : result.value.created
      ? 'created'
      : 'original'

async function seqsOf(roomId: number): Promise<number[]> {
  const rows = await database.sql<
    { seq: string }[]
  >`select seq from messages where room_id = ${roomId} order by seq`
  return rows.map((row) => Number(row.seq))
}

describe('group commit', () => {
  it('stores a batch of many users in many rooms with gapless seqs, each request answered with its own message', async () => {
    const posting = processWith()
    const roomIds = [await newRoom(), await newRoom(), await newRoom()]
    const requests = range(1, 60).map((i) => request(roomIds[i % 3]!, `crowd-${i}`, `hello ${i}`))
    const results = await together(posting, requests)
    results.forEach((result, i) => {
      expect(result.status).toBe('fulfilled')
      const { message, created } = (result as PromiseFulfilledResult<Posted>).value
      expect(created).toBe(true)
      expect(message).toMatchObject({
        room_id: requests[i]!.roomId,
        user_id: requests[i]!.userId,
        body: `hello ${i + 1}`,
      })
    })
    for (const roomId of roomIds) expect(await seqsOf(roomId)).toEqual(range(1, 20))
    // Within a room, a request posted earlier in the batch has the lower seq.
    for (const roomId of roomIds) {
      const seqs = results
        .map((result, i) => ({ result, i }))
        .filter(({ i }) => requests[i]!.roomId === roomId)
        .map(({ result }) => (result as PromiseFulfilledResult<Posted>).value.message.seq)
      expect(seqs).toEqual(range(1, 20))
    }
  })

  it('rings each room’s doorbell once per batch', async () => {
    const posting = processWith()
    const roomId = await newRoom()
    const heard: string[] = []
    const listener = await database.sql.listen('parley_messages', (payload) => {
      if (payload.startsWith(`${roomId}:`)) heard.push(payload)
    })
    await together(
      posting,
      range(1, 10).map((i) => request(roomId, `bell-${i}`, 'ding')),
    )
    // A later post of its own rings after the batch's: once it is heard, so is everything before it.
    await posting.post(request(roomId, 'bell-after', 'dong'))
    await until(() => heard.includes(`${roomId}:11`), 'the doorbell of the later post')
    expect(heard).toEqual([`${roomId}:10`, `${roomId}:11`])
    await listener.unlisten()
  })

  it('refuses each bad message alone and stores the others of its batch', async () => {
    const posting = processWith()
    const open = await newRoom()
    const hidden = await newRoom('private')
    const other = await newRoom()
    await posting.post(request(open, 'parent-author', 'parent'))
    await posting.post(request(other, 'reuser', 'first use', { clientId: 'used' }))
    const flooder = 'flooder'
    await together(
      posting,
      range(1, 20).map((i) => request(open, flooder, `flood ${i}`)),
    )
    const results = await together(posting, [
      request(open, 'good-1', 'fine'),
      request(987_654_321, 'lost', 'no such room'),
      request(hidden, 'stranger', 'let me in'),
      request(open, 'replier', 'to nothing', { replyTo: 999 }),
      request(open, 'reuser', 'second use', { clientId: 'used' }),
      request(open, flooder, 'one too many'),
      request(open, 'replier', 'to the parent', { replyTo: 1 }),
      request(hidden, 'admin', 'admins may', { isAdmin: true }),
      request(open, 'good-2', 'also fine'),
    ])
    expect(results.map(codeOf)).toEqual([
      'created',
      'room_not_found',
      'room_not_found',
      'message_not_found',
      'client_id_reused',
      'rate_limited',
      'created',
      'created',
      'created',
    ])
    const limited = (results[5] as PromiseRejectedResult).reason as ChatError
    expect(limited.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    expect(limited.retryAfterSeconds).toBeLessThanOrEqual(10)
    expect(await seqsOf(open)).toEqual(range(1, 24))
    const [parent] = await database.sql`select reply_count from messages where room_id = ${open} and seq = 1`
    expect(Number(parent!.reply_count)).toBe(1)
  })

  it('counts a user’s earlier messages of the same batch against the rate limit', async () => {
    const posting = processWith()
    const roomId = await newRoom()
    const results = await together(
      posting,
      range(1, 25).map((i) => request(roomId, 'eager', `m${i}`)),
    )
    expect(results.map(codeOf)).toEqual([
      ...range(1, 20).map(() => 'created'),
      ...range(1, 5).map(() => 'rate_limited'),
    ])
  })

  it('posts a client_id repeated within a batch once, and answers a retry in a later batch with the original', async () => {
    const posting = processWith()
    const roomId = await newRoom()
    const elsewhere = await newRoom()
    const results = await together(posting, [
      request(roomId, 'twice', 'once', { clientId: 'c-1' }),
      request(roomId, 'twice', 'once', { clientId: 'c-1' }),
      request(elsewhere, 'twice', 'once', { clientId: 'c-1' }),
    ])
    expect(results.map(codeOf)).toEqual(['created', 'original', 'client_id_reused'])
    const first = (results[0] as PromiseFulfilledResult<Posted>).value.message
    expect((results[1] as PromiseFulfilledResult<Posted>).value.message).toEqual(first)
    const later = await posting.post(request(roomId, 'twice', 'once', { clientId: 'c-1' }))
    expect(later).toEqual({ message: first, created: false })
    expect(await seqsOf(roomId)).toEqual([1])
  })

  it('carried every batch above in one statement', () => {
    expect(processes.length).toBeGreaterThan(0)
    expect(batchesPostedOneByOne()).toBe(0)
  })

  it('posts the messages of a batch one by one when the batch fails as a whole, losing none', async () => {
    const posting = processWith()
    const roomId = await newRoom()
    // Another process stores the same client_id while the batch is being decided: the batch's
    // insert waits for it, then fails on the unique client_id.
    const racing = await database.sql.reserve()
    await racing`begin`
    await racing`insert into messages (room_id, user_id, user_name, body, client_id)
                 values (${roomId}, 'raced', 'raced', 'from elsewhere', 'r-1')`
    const answers = together(posting, [
      request(roomId, 'bystander-1', 'mine'),
      request(roomId, 'raced', 'from here', { clientId: 'r-1' }),
      request(roomId, 'bystander-2', 'mine too'),
    ])
    await until(async () => {
      const [row] = await database.sql<{ waiting: number }[]>`
        select count(*)::int as waiting from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`
      return row!.waiting >= 1
    }, 'the batch to wait for the racing insert')
    await racing`commit`
    racing.release()
    const results = await answers
    expect(results.map(codeOf)).toEqual(['created', 'original', 'created'])
    expect(posting.stats().batchesPostedOneByOne).toBe(1)
    expect((results[1] as PromiseFulfilledResult<Posted>).value.message.body).toBe('from elsewhere')
    expect(await seqsOf(roomId)).toEqual([1, 2, 3])
  })

  it('settles a client_id repeated in both batches in flight without failing either', async () => {
    // Batches of two: the first two requests go at once, and the next two with them.
    const posting = processWith(2, 20)
    const roomId = await newRoom()
    const results = await together(posting, [
      request(roomId, 'retrier', 'hello', { clientId: 'twice-in-flight' }),
      request(roomId, 'bystander-a', 'one'),
      request(roomId, 'bystander-b', 'two'),
      request(roomId, 'retrier', 'hello', { clientId: 'twice-in-flight' }),
    ])
    expect(results.map(codeOf)).toEqual(['created', 'created', 'created', 'original'])
    expect(posting.stats().batchesPostedOneByOne).toBe(0)
    expect(await seqsOf(roomId)).toEqual([1, 2, 3])
  })

  it("counts refused posts against the poster's limit", async () => {
    const posting = processWith()
    const hidden = await newRoom('private')
    const [parent] = await database.sql<{ seq: string }[]>`
      insert into messages (room_id, user_id, user_name, body) values (${hidden}, 'owner', 'owner', 'secret')
      returning seq`
    const open = await newRoom()
    // Replies to a hidden room's message, refused as if the room did not exist.
    const refused = await together(
      posting,
      range(1, rateLimit.count).map((i) =>
        request(hidden, 'prober', `probe ${i}`, { replyTo: Number(parent!.seq) }),
      ),
    )
    expect(new Set(refused.map(codeOf))).toEqual(new Set(['room_not_found']))
    const next = await together(posting, [request(open, 'prober', 'now a real one')])
    expect(next.map(codeOf)).toEqual(['rate_limited'])
  })

  it('never deadlocks batches of several processes replying across the same rooms', async () => {
    const writers = [processWith(50, 5), processWith(50, 5), processWith(50, 5)]
    const roomIds = [await newRoom(), await newRoom(), await newRoom(), await newRoom()]
    for (const roomId of roomIds) await writers[0]!.post(request(roomId, 'seed', 'parent'))
    const rounds = range(1, 6).map((round) =>
      Promise.all(
        writers.map((posting, p) =>
          together(
            posting,
            // Each process lists the rooms in its own order, and replies to every room's parent.
            range(1, 12).map((i) => {
              const roomId = roomIds[(i * (p + 1) + round) % roomIds.length]!
              return request(roomId, `writer-${round}-${p}-${i}`, 'reply', i % 2 ? { replyTo: 1 } : {})
            }),
          ),
        ),
      ),
    )
    const results = (await Promise.all(rounds)).flat(2)
    expect(results.filter((result) => result.status === 'rejected')).toEqual([])
    let total = 0
    for (const roomId of roomIds) {
      const seqs = await seqsOf(roomId)
      expect(seqs).toEqual(range(1, seqs.length))
      total += seqs.length - 1
    }
    expect(total).toBe(6 * 3 * 12)
    expect(writers.map((posting) => posting.stats().batchesPostedOneByOne)).toEqual([0, 0, 0])
  })
})
