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
  },
  (table) => [
    check('rooms_name_length', sql`char_length(btrim(${table.name})) between 1 and 100`),
    // Unique among public rooms only: were private names unique too, "name taken" would
    // reveal that a private room exists.
    uniqueIndex('rooms_public_name_unique')
      .on(table.name)
      .where(sql`visibility = 'public'`),
    check('rooms_visibility', sql`${table.visibility} in ('public', 'private')`),
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
    role: text('role', { enum: ['owner', 'member'] })
      .notNull()
      .default('member'),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull().defaultNow(),
    // The member's display name as they or the person who added them gave it; a direct
    // message shows each person the other's.
    userName: text('user_name'),
  },
  (table) => [
    primaryKey({ columns: [table.roomId, table.userId] }),
    check('room_members_role', sql`${table.role} in ('owner', 'member')`),
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
    // Search probes each readable room with its words: room_id leads (btree_gin), so a
    // search never walks the rooms its caller may not read.
    index('messages_search_idx').using('gin', table.roomId, table.searchVector),
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
    kind: text('kind', { enum: ['mention', 'dm', 'added', 'removed'] }).notNull(),
    roomId: bigint('room_id', { mode: 'number' }).notNull(),
    seq: bigint('seq', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.cursor] }),
    // The retention sweep deletes the oldest events first.
    index('user_events_created_idx').on(table.createdAt),
    check('user_events_kind', sql`${table.kind} in ('mention', 'dm', 'added', 'removed')`),
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
