import { sql } from 'drizzle-orm'
import {
  bigint,
  check,
  index,
  integer,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core'

// The catalog: a small database of its own that says which shard (an independent
// PostgreSQL primary, with its standbys) holds each room. Only a sharded deployment has one
// (CATALOG_DATABASE_URL); its functions and trigger are in drizzle-catalog/ after the tables.

/** Room ids, allocated here so that an id never names rooms on two shards. */
export const roomIds = pgSequence('room_ids')

export const shards = pgTable(
  'shards',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    name: text('name').notNull().unique(),
    // The shard's DATABASE_URL (a multi-host URL for a primary and its standbys, or its pooler's).
    url: text('url').notNull(),
    // Its LISTEN_DATABASE_URL, when `url` is a transaction-mode pooler's.
    listenUrl: text('listen_url'),
    // open: takes new rooms; closed: keeps its rooms, takes no new ones; draining: its rooms
    // are being moved away.
    state: text('state', { enum: ['open', 'closed', 'draining'] })
      .notNull()
      .default('open'),
    // Rooms placed here, kept by placement and moves, so placing never counts rows.
    roomCount: bigint('room_count', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [check('shards_state', sql`${table.state} in ('open', 'closed', 'draining')`)],
)

export const roomShards = pgTable(
  'room_shards',
  {
    roomId: bigint('room_id', { mode: 'number' }).primaryKey(),
    shardId: integer('shard_id')
      .notNull()
      .references(() => shards.id),
    placedAt: timestamp('placed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // A shard's rooms in id order: what the catalog sweep walks.
  (table) => [index('room_shards_shard_idx').on(table.shardId, table.roomId)],
)

/**
 * The direct-message room of each pair of people, so that a pair has one conversation
 * however many shards there are: the first to record the pair places the room, and whoever
 * asks next finds it here (the shards' own unique index on the pair holds only per shard).
 */
export const dmRooms = pgTable(
  'dm_rooms',
  {
    // The pair's user ids in PostgreSQL's order (least, greatest), as rooms.dm_low/dm_high.
    dmLow: text('dm_low').notNull(),
    dmHigh: text('dm_high').notNull(),
    // A placement taken back takes the pair with it.
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .unique()
      .references(() => roomShards.roomId, { onDelete: 'cascade' }),
  },
  (table) => [primaryKey({ columns: [table.dmLow, table.dmHigh] })],
)

/**
 * The name of each public room, so that a name is taken once across shards (each shard's
 * own unique index on public names holds only there). Recorded with the placement, before
 * the room is created on its shard; a placement taken back takes its name with it.
 */
export const publicRoomNames = pgTable('public_room_names', {
  name: text('name').primaryKey(),
  roomId: bigint('room_id', { mode: 'number' })
    .notNull()
    .unique()
    .references(() => roomShards.roomId, { onDelete: 'cascade' }),
})
