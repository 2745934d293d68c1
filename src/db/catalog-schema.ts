import { sql } from 'drizzle-orm'
import { bigint, check, index, integer, pgSequence, pgTable, text, timestamp } from 'drizzle-orm/pg-core'

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
  (table) => [index('room_shards_shard_idx').on(table.shardId)],
)
