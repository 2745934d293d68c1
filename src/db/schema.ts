import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  index,
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
  },
  (table) => [
    check('rooms_name_length', sql`char_length(btrim(${table.name})) between 1 and 100`),
    // Unique among public rooms only: were private names unique too, "name taken" would
    // reveal that a private room exists.
    uniqueIndex('rooms_public_name_unique')
      .on(table.name)
      .where(sql`visibility = 'public'`),
    check('rooms_visibility', sql`${table.visibility} in ('public', 'private')`),
  ],
)

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
  },
  (table) => [
    unique('messages_room_seq_unique').on(table.roomId, table.seq),
    // NULLs are distinct, so only messages that carry a client_id are constrained.
    unique('messages_user_client_unique').on(table.userId, table.clientId),
    // Serves the per-user posting rate limit: a user's messages of the last few seconds.
    index('messages_user_created_idx').on(table.userId, table.createdAt),
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
