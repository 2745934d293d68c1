-- The shard holding a room, for psql on the sharding catalog (CATALOG_DATABASE_URL):
--   psql "$CATALOG_DATABASE_URL" -v room=42 -f sql/room-shard.sql
-- `npm run shards -- where 42` answers the same. No row: no shard holds the room.
SELECT s.name AS shard, s.state, s.url, r.placed_at
  FROM room_shards r JOIN shards s ON s.id = r.shard_id
 WHERE r.room_id = :room;
