import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  doublePrecision,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
} from 'drizzle-orm/pg-core'

export const rooms = pgTable(
  'rooms',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    name: text('name').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    // Advanced by the BEFORE INSERT trigger on messages (sql/messages.sql).
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    visibility: text('visibility', { enum: ['public', 'private'] })
      .notNull()
      .default('public'),
    // Kept by the message triggers (sql/messages.sql), so no answer counts a room's rows.
    messageCount: bigint('message_count', { mode: 'number' }).notNull().default(0),
    lastMessageAt: timestamp('last_message_at', { withTimezone: true }),
    // The room's change cursor: advanced by every change to its history (a new message, an
    // edit, a delete, a reaction) under the same row lock as last_seq (sql/messages.sql).
    lastCursor: bigint('last_cursor', { mode: 'number' }).notNull().default(0),
    // A direct message is a private room of two people, dm_low < dm_high, whose members
    // never change; the pair is unique, so two people get one conversation.
    kind: text('kind', { enum: ['room', 'dm'] })
      .notNull()
      .default('room'),
    dmLow: text('dm_low'),
    dmHigh: text('dm_high'),
    // The highest change cursor whose message_changes row the retention sweep deleted, set
    // in the same statement: a stream resuming below it cannot be replayed and is told to reload.
    prunedCursor: bigint('pruned_cursor', { mode: 'number' }).notNull().default(0),
    // Slow mode: the least time between two posts of one user, moderators exempt (0: off).
    slowModeSeconds: integer('slow_mode_seconds').notNull().default(0),
  },
  (table) => [
    check('rooms_name_length', sql`char_length(btrim(${table.name})) between 1 and 100`),
    // Unique among public rooms only: were private names unique too, "name taken" would
    // reveal that a private room exists.
    uniqueIndex('rooms_public_name_unique')
      .on(table.name)
      .where(sql`visibility = 'public'`),
    check('rooms_visibility', sql`${table.visibility} in ('public', 'private')`),
    check('rooms_slow_mode', sql`${table.slowModeSeconds} between 0 and 21600`),
    check(
      'rooms_dm_pair',
      sql`case when ${table.kind} = 'dm'
        then ${table.visibility} = 'private' and ${table.dmLow} < ${table.dmHigh}
        else ${table.kind} = 'room' and ${table.dmLow} is null and ${table.dmHigh} is null end`,
    ),
    uniqueIndex('rooms_dm_pair_unique')
      .on(table.dmLow, table.dmHigh)
      .where(sql`kind = 'dm'`),
    // Serves the per-user room creation quota: the rooms a user created lately.
    index('rooms_created_by_idx').on(table.createdBy, table.createdAt),
    // The lobby's order, most recently active first, paged by (activity, id).
    index('rooms_activity_idx').on(
      sql`(coalesce(${table.lastMessageAt}, ${table.createdAt})) desc`,
      sql`${table.id} desc`,
    ),
  ],
)

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' })

export const roomMembers = pgTable(
  'room_members',
  {
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    role: text('role', { enum: ['owner', 'moderator', 'member'] })
      .notNull()
      .default('member'),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull().defaultNow(),
    // The member's display name as they or the person who added them gave it; a direct
    // message shows each person the other's.
    userName: text('user_name'),
  },
  (table) => [
    primaryKey({ columns: [table.roomId, table.userId] }),
    check('room_members_role', sql`${table.role} in ('owner', 'moderator', 'member')`),
    // Lists a user's rooms for the lobby.
    index('room_members_user_idx').on(table.userId),
  ],
)

export const messages = pgTable(
  'messages',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    // Assigned by the BEFORE INSERT trigger; whatever an INSERT supplies is replaced.
    seq: bigint('seq', { mode: 'number' }).notNull(),
    userId: text('user_id').notNull(),
    userName: text('user_name').notNull(),
    body: text('body').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    clientId: text('client_id'),
    // The change cursor of the message's insert, assigned by the same trigger as seq.
    createdCursor: bigint('created_cursor', { mode: 'number' }).notNull(),
    editedAt: timestamp('edited_at', { withTimezone: true }),
    // A deleted message stays in history as a tombstone: body '' and no reactions.
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
    // Totals per emoji, kept by the reaction triggers: {"👍": 2}.
    reactions: jsonb('reactions').$type<Record<string, number>>().notNull().default({}),
    // The seq of the message this one replies to, in the same room.
    replyTo: bigint('reply_to', { mode: 'number' }),
    replyCount: integer('reply_count').notNull().default(0),
    // The user ids named as @user_id in the body who may read the room, kept by the
    // mention trigger (sql/mentions.sql) on insert and edit.
    mentions: text('mentions')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    // Generated, so psql inserts and edits are searchable and a tombstone's '' is not. Built
    // with the text search configuration 'simple'; SEARCH_CONFIG must name the same one, and
    // sql/search-config.sql rebuilds it with another (see the README).
    searchVector: tsvector('search_vector').generatedAlwaysAs(sql`to_tsvector('simple'::regconfig, body)`),
    // Posted with a token that says its holder is a bot (the `bot` claim); psql inserts
    // are people unless they say otherwise.
    bot: boolean('bot').notNull().default(false),
  },
  (table) => [
    unique('messages_room_seq_unique').on(table.roomId, table.seq),
    // The stream reads a room's new messages by change cursor.
    unique('messages_room_cursor_unique').on(table.roomId, table.createdCursor),
    // A message's replies, in seq order.
    index('messages_replies_idx')
      .on(table.roomId, table.replyTo, table.seq)
      .where(sql`reply_to is not null`),
    // NULLs are distinct, so only messages that carry a client_id are constrained.
    unique('messages_user_client_unique').on(table.userId, table.clientId),
    // Serves the per-user posting rate limit: a user's messages of the last few seconds.
    index('messages_user_created_idx').on(table.userId, table.createdAt),
    // Search probes each readable room with its words keyed by room ('12.hello',
    // sql/search.sql), so each (room, word) has a posting list of its own: a search reads
    // its caller's rooms' matches and nothing of any other room. No fast update: its
    // pending list of new rows is read whole by every probe, so once per readable room.
    index('messages_search_idx')
      .using('gin', sql`room_lexemes(${table.roomId}, ${table.searchVector})`)
      .with({ fastupdate: false }),
  ],
)

/** Who reacted to which message with what; the totals live in messages.reactions. */
export const messageReactions = pgTable(
  'message_reactions',
  {
    roomId: bigint('room_id', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    userId: text('user_id').notNull(),
    emoji: text('emoji').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.roomId, table.seq, table.emoji, table.userId] }),
    foreignKey({
      columns: [table.roomId, table.seq],
      foreignColumns: [messages.roomId, messages.seq],
    }).onDelete('cascade'),
    check('message_reactions_emoji_length', sql`char_length(${table.emoji}) between 1 and 64`),
  ],
)

/**
 * Who is named in which message, one row per mentioned user, kept by the mention trigger
 * from messages.mentions: what the lobby's mention counts and GET /mentions read.
 */
export const messageMentions = pgTable(
  'message_mentions',
  {
    userId: text('user_id').notNull(),
    messageId: bigint('message_id', { mode: 'number' }).notNull(),
    roomId: bigint('room_id', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
  },
  (table) => [
    // A user's mentions, newest first, across rooms.
    primaryKey({ columns: [table.userId, table.messageId] }),
    // A user's unread mentions of one room: those after the read mark.
    index('message_mentions_user_room_idx').on(table.userId, table.roomId, table.seq),
    // Found again when a message is edited or deleted.
    index('message_mentions_message_idx').on(table.roomId, table.seq),
    // The retention sweep walks mentions from the oldest message on.
    index('message_mentions_message_id_idx').on(table.messageId),
    foreignKey({
      columns: [table.roomId, table.seq],
      foreignColumns: [messages.roomId, messages.seq],
    }).onDelete('cascade'),
  ],
)

/**
 * Every change to a room's history other than a new message (which the messages table
 * records itself), numbered by the room's change cursor: what a resuming stream replays.
 */
export const messageChanges = pgTable(
  'message_changes',
  {
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    cursor: bigint('cursor', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    kind: text('kind', { enum: ['edit', 'delete', 'reaction'] }).notNull(),
    // Who edited (the author) or reacted; for reactions, with what, added or removed.
    userId: text('user_id'),
    emoji: text('emoji'),
    action: text('action', { enum: ['added', 'removed'] }),
    // For a reaction: how many people reacted with its emoji just after it, as its event
    // carries it (the whole totals map grew with every emoji, and was copied into each change).
    count: integer('count'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    // For the delete of a message deleted by hand (its row is gone): the change cursor of its
    // insert and what its tombstone shows, so a replay sends what live streams were sent.
    messageCursor: bigint('message_cursor', { mode: 'number' }),
    tombstone: jsonb('tombstone').$type<Record<string, unknown>>(),
  },
  (table) => [
    primaryKey({ columns: [table.roomId, table.cursor] }),
    // The retention sweep deletes the oldest changes first.
    index('message_changes_created_idx').on(table.createdAt),
    // A replay finds a vanished message's insert by its cursor, and its tombstone by seq.
    uniqueIndex('message_changes_message_cursor_idx')
      .on(table.roomId, table.messageCursor)
      .where(sql`message_cursor is not null`),
    uniqueIndex('message_changes_tombstone_idx')
      .on(table.roomId, table.seq)
      .where(sql`tombstone is not null`),
    check('message_changes_kind', sql`${table.kind} in ('edit', 'delete', 'reaction')`),
    // Serves the per-user limit on edits and reactions: a user's changes of the last few seconds.
    index('message_changes_user_idx')
      .on(table.userId, table.createdAt)
      .where(sql`user_id is not null`),
  ],
)

/** Each user's event cursor, advanced by every event of theirs (sql/user-events.sql). */
export const userFeeds = pgTable('user_feeds', {
  userId: text('user_id').primaryKey(),
  lastCursor: bigint('last_cursor', { mode: 'number' }).notNull().default(0),
  // The highest event cursor the retention sweep deleted, set in the same statement: a
  // stream resuming below it is told to reload. Rows are never deleted, so a cursor never
  // goes backwards.
  prunedCursor: bigint('pruned_cursor', { mode: 'number' }).notNull().default(0),
})

/**
 * What concerns one person across rooms, numbered by their cursor: what GET /me/stream
 * sends and replays. The message or room is read when the event is sent, under the rules
 * of that moment.
 */
export const userEvents = pgTable(
  'user_events',
  {
    userId: text('user_id').notNull(),
    cursor: bigint('cursor', { mode: 'number' }).notNull(),
    kind: text('kind', {
      enum: ['mention', 'dm', 'added', 'removed', 'webhook_disabled', 'report'],
    }).notNull(),
    // The room of every kind but webhook_disabled, which names its endpoint instead.
    roomId: bigint('room_id', { mode: 'number' }),
    seq: bigint('seq', { mode: 'number' }),
    webhookId: bigint('webhook_id', { mode: 'number' }),
    // For a report: the report (room_reports), which the event shows as it is when sent.
    reportId: bigint('report_id', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.cursor] }),
    // The retention sweep deletes the oldest events first.
    index('user_events_created_idx').on(table.createdAt),
    check(
      'user_events_kind',
      sql`${table.kind} in ('mention', 'dm', 'added', 'removed', 'webhook_disabled', 'report')`,
    ),
  ],
)

export type RoomRow = typeof rooms.$inferSelect
export type MessageRow = typeof messages.$inferSelect
export type MemberRow = typeof roomMembers.$inferSelect

/** Parley processes alive on this database; a process that stops heartbeating is swept with its presence. */
export const parleyInstances = pgTable('parley_instances', {
  id: text('id').primaryKey(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
})

/** Who has a room's stream open, per instance: one row per (instance, room, user), however many tabs. */
export const streamPresence = pgTable(
  'stream_presence',
  {
    instanceId: text('instance_id')
      .notNull()
      .references(() => parleyInstances.id, { onDelete: 'cascade' }),
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    userName: text('user_name').notNull(),
    since: timestamp('since', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.instanceId, table.roomId, table.userId] }),
    index('stream_presence_room_idx').on(table.roomId, table.userId),
  ],
)

/** How far each user has read each room. Only ever moves forward. */
export const roomReads = pgTable(
  'room_reads',
  {
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.roomId, table.userId] })],
)

/**
 * Single-use stream tickets (POST /stream-tickets), shared by every instance. Only the
 * SHA-256 of a ticket is kept, so reading this table opens no stream; the identity is the
 * one of the token that bought the ticket, and its stream ends when that token expires.
 */
export const streamTickets = pgTable(
  'stream_tickets',
  {
    hash: text('hash').primaryKey(),
    userId: text('user_id').notNull(),
    userName: text('user_name').notNull(),
    isAdmin: boolean('is_admin').notNull(),
    tokenExpiresAt: timestamp('token_expires_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (table) => [
    // A hex digest: a ticket itself (43 base64url characters) cannot be stored here.
    check('stream_tickets_hash_hex', sql`${table.hash} ~ '^[0-9a-f]{64}$'`),
    // Serves the bounded sweep of expired tickets.
    index('stream_tickets_expires_idx').on(table.expiresAt),
  ],
)

/**
 * Every per-user rate limit, as a token bucket per (user, action): taking a token is one
 * upsert that locks the bucket's row, so a limit holds against any burst, on every
 * instance at once. A bucket left alone for a whole window is full again, like a bucket
 * that never existed, and is swept.
 */
export const rateBuckets = pgTable(
  'rate_buckets',
  {
    userId: text('user_id').notNull(),
    action: text('action').notNull(),
    /** Tokens left when last taken from; refilled at limit / window since `at`. */
    tokens: doublePrecision('tokens').notNull(),
    /** How many the last take granted. */
    granted: integer('granted').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.action] }),
    index('rate_buckets_at_idx').on(table.at),
  ],
)

/**
 * Limits the triggers enforce, written by the server at start from its configuration
 * (src/db/settings.ts), so that rows inserted with psql meet them too. A missing row is no
 * limit.
 */
export const parleySettings = pgTable('parley_settings', {
  name: text('name').primaryKey(),
  value: integer('value').notNull(),
})

/**
 * What happens to a room besides its message history, numbered per room by
 * room_log_heads: members added and removed (sql/room-log.sql), with psql too. Webhooks
 * deliver it in this order; another kind of happening (a ban) is another kind here.
 */
export const roomLog = pgTable(
  'room_log',
  {
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    cursor: bigint('cursor', { mode: 'number' }).notNull(),
    kind: text('kind').notNull(),
    userId: text('user_id').notNull(),
    role: text('role'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.roomId, table.cursor] }),
    // The retention sweep deletes the oldest entries first.
    index('room_log_created_idx').on(table.createdAt),
  ],
)

/** Each room's newest room_log cursor, advanced under the row's lock, so cursor order is commit order. */
export const roomLogHeads = pgTable('room_log_heads', {
  roomId: bigint('room_id', { mode: 'number' })
    .primaryKey()
    .references(() => rooms.id, { onDelete: 'cascade' }),
  lastCursor: bigint('last_cursor', { mode: 'number' }).notNull().default(0),
})

/**
 * A URL that receives a room's changes as signed POSTs (docs/webhooks.md). `rooms` null
 * follows every room its owner manages (every room, for an admin), now and later.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    ownerId: text('owner_id').notNull(),
    // Whether the owner registered it as an admin: Parley keeps no roles, and the endpoint
    // acts with the rights it was registered with.
    ownerAdmin: boolean('owner_admin').notNull().default(false),
    url: text('url').notNull(),
    rooms: bigint('rooms', { mode: 'number' }).array(),
    events: text('events').array().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    disabledReason: text('disabled_reason'),
    // `whsec_<base64>`; during a rotation the previous one signs too, until it expires.
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    // Set by the first failure after a success; an endpoint failing for long enough is disabled.
    failingSince: timestamp('failing_since', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('webhook_endpoints_owner_idx').on(table.ownerId, table.id),
    check('webhook_endpoints_url_length', sql`char_length(${table.url}) between 1 and 2048`),
  ],
)

/**
 * One ordered queue per (endpoint, room, lane): `changes` follows the room's change
 * cursor (messages, edits, deletes, reactions), `log` its room_log. `cursor` is the last
 * position delivered or passed over. An instance claims a lane with FOR UPDATE SKIP
 * LOCKED and holds it by a lease until `lease_until`; `lease` numbers the claims, so an
 * instance whose lease ran out cannot move a cursor another instance now holds.
 */
export const webhookLanes = pgTable(
  'webhook_lanes',
  {
    endpointId: bigint('endpoint_id', { mode: 'number' })
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    lane: text('lane', { enum: ['changes', 'log'] }).notNull(),
    cursor: bigint('cursor', { mode: 'number' }).notNull(),
    // Failed attempts at the next event; it is retried at next_attempt_at.
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    leaseUntil: timestamp('lease_until', { withTimezone: true })
      .notNull()
      .default(sql`'-infinity'`),
    lease: bigint('lease', { mode: 'number' }).notNull().default(0),
  },
  (table) => [
    primaryKey({ columns: [table.endpointId, table.roomId, table.lane] }),
    check('webhook_lanes_lane', sql`${table.lane} in ('changes', 'log')`),
    index('webhook_lanes_due_idx').on(table.nextAttemptAt),
  ],
)

/** Every delivery attempt: what the endpoint's owner sees in its delivery log. Swept after WEBHOOK_LOG_RETENTION_MS. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    endpointId: bigint('endpoint_id', { mode: 'number' })
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    // The webhook-id header: the same for every attempt at one event.
    messageId: text('message_id').notNull(),
    type: text('type').notNull(),
    roomId: bigint('room_id', { mode: 'number' }).notNull(),
    attempt: integer('attempt').notNull(),
    // The HTTP status, or null when no answer came (refused address, timeout, reset).
    status: integer('status'),
    latencyMs: integer('latency_ms').notNull(),
    error: text('error'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index('webhook_deliveries_endpoint_idx').on(table.endpointId, table.id),
    index('webhook_deliveries_created_idx').on(table.createdAt),
  ],
)

/**
 * A ban or a mute of one user in one room, in force until `until` (null: until lifted):
 * what sql/access.sql (bans) and parley_mute_of (mutes) read. Rows whose `until` has passed
 * are over and are swept; inserted with psql, they act as over HTTP (sql/moderation.sql).
 */
function restrictionTable<Name extends string>(name: Name) {
  return pgTable(
    name,
    {
      roomId: bigint('room_id', { mode: 'number' })
        .notNull()
        .references(() => rooms.id, { onDelete: 'cascade' }),
      userId: text('user_id').notNull(),
      until: timestamp('until', { withTimezone: true }),
      reason: text('reason'),
      // Who imposed it: the moderator's user id, or the database role of a psql session.
      createdBy: text('created_by')
        .notNull()
        .default(sql`session_user`),
      createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (table) => [
      primaryKey({ columns: [table.roomId, table.userId] }),
      // Listed newest first, paged by (created_at, user_id).
      index(`${name}_listed_idx`).on(table.roomId, table.createdAt, table.userId),
      // The sweep finds those that ended.
      index(`${name}_until_idx`).on(table.until),
      // The lobby and search ask for one user's bans across every room (sql/access.sql).
      index(`${name}_user_idx`).on(table.userId),
      check(`${name}_reason_length`, sql`char_length(${table.reason}) <= 500`),
    ],
  )
}

export const roomBans = restrictionTable('room_bans')
export const roomMutes = restrictionTable('room_mutes')

/** Slow mode's slots: when each user last posted in each slow room (sql/moderation.sql, parley_pace_posts). */
export const roomPostMarks = pgTable(
  'room_post_marks',
  {
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    postedAt: timestamp('posted_at', { withTimezone: true }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.roomId, table.userId] }),
    index('room_post_marks_posted_idx').on(table.postedAt),
  ],
)

/**
 * A reader's report of a message to the room's moderators, with the message as it was
 * reported (its author and body), so an edit or a delete afterwards hides nothing. One open
 * report per reporter and message.
 */
export const roomReports = pgTable(
  'room_reports',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    roomId: bigint('room_id', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    authorId: text('author_id').notNull(),
    body: text('body').notNull(),
    reporterId: text('reporter_id').notNull(),
    reason: text('reason').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    resolvedBy: text('resolved_by'),
    resolution: text('resolution', { enum: ['dismissed', 'actioned'] }),
    note: text('note'),
  },
  (table) => [
    foreignKey({
      columns: [table.roomId, table.seq],
      foreignColumns: [messages.roomId, messages.seq],
    }).onDelete('cascade'),
    uniqueIndex('room_reports_open_unique')
      .on(table.roomId, table.seq, table.reporterId)
      .where(sql`resolved_at is null`),
    // The moderators' queue: a room's open reports, oldest first.
    index('room_reports_open_idx')
      .on(table.roomId, table.id)
      .where(sql`resolved_at is null`),
    // The sweep deletes resolved reports past the retention window.
    index('room_reports_resolved_idx').on(table.resolvedAt),
    check('room_reports_reason_length', sql`char_length(${table.reason}) between 1 and 500`),
    check(
      'room_reports_resolution',
      sql`(${table.resolvedAt} is null) = (${table.resolution} is null) and ${table.resolution} in ('dismissed', 'actioned')`,
    ),
  ],
)

/**
 * Every moderation action, written by the triggers of sql/moderation.sql (psql's too): who
 * (`actor_id`), whom (`target_id`), when and why, and what else the action carries.
 */
export const moderationLog = pgTable(
  'moderation_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id, { onDelete: 'cascade' }),
    action: text('action', {
      enum: [
        'appoint',
        'dismiss',
        'ban',
        'unban',
        'mute',
        'unmute',
        'slow_mode',
        'message_deleted',
        'report_resolved',
      ],
    }).notNull(),
    actorId: text('actor_id').notNull(),
    targetId: text('target_id'),
    reason: text('reason'),
    // A ban's or a mute's end; slow mode's new interval; the deleted messages; the report resolved.
    until: timestamp('until', { withTimezone: true }),
    seconds: integer('seconds'),
    seqs: bigint('seqs', { mode: 'number' }).array(),
    reportId: bigint('report_id', { mode: 'number' }),
    // The transaction of a message_deleted entry, which gathers its deletes into one entry.
    xact: bigint('xact', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Listed newest first.
    index('moderation_log_room_idx').on(table.roomId, table.id),
    // The retention sweep deletes the oldest entries first.
    index('moderation_log_created_idx').on(table.createdAt),
    uniqueIndex('moderation_log_delete_xact_idx')
      .on(table.xact, table.roomId, table.actorId, table.targetId)
      .where(sql`action = 'message_deleted'`),
    check(
      'moderation_log_action',
      sql`${table.action} in ('appoint', 'dismiss', 'ban', 'unban', 'mute', 'unmute', 'slow_mode', 'message_deleted', 'report_resolved')`,
    ),
  ],
)
