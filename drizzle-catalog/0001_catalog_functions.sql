-- The catalog's rules, kept by the database so that an operator's psql edits follow them too.
--
-- room_shards keeps each shard's room_count (placement reads it), and rings
-- 'room:<id>' on parley_directory when a room moves or leaves, so that every Parley process
-- forgets where it was. A new room rings nothing: no process can have cached it, since a
-- lookup that finds no row is never cached. A room's id never changes.
CREATE OR REPLACE FUNCTION parley_room_shards_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.room_id <> OLD.room_id THEN
    RAISE EXCEPTION 'a room''s id never changes' USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.shard_id = OLD.shard_id THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE shards SET room_count = room_count - 1 WHERE id = OLD.shard_id;
    PERFORM pg_notify('parley_directory', 'room:' || OLD.room_id);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE shards SET room_count = room_count + 1 WHERE id = NEW.shard_id;
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER room_shards_changed AFTER INSERT OR UPDATE OR DELETE ON room_shards
  FOR EACH ROW EXECUTE FUNCTION parley_room_shards_changed();
--> statement-breakpoint
-- A shard added, removed, or whose address or state changes rings 'shard:<id>': processes
-- listen on every shard. Placing a room only changes room_count, which no process caches, so
-- it rings nothing.
CREATE OR REPLACE FUNCTION parley_shards_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('parley_directory', 'shard:' || OLD.id);
  ELSE
    PERFORM pg_notify('parley_directory', 'shard:' || NEW.id);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER shards_changed AFTER UPDATE ON shards
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.url IS DISTINCT FROM NEW.url
                     OR OLD.listen_url IS DISTINCT FROM NEW.listen_url OR OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION parley_shards_changed();
--> statement-breakpoint
CREATE TRIGGER shards_added_or_removed AFTER INSERT OR DELETE ON shards
  FOR EACH ROW EXECUTE FUNCTION parley_shards_changed();
--> statement-breakpoint
-- Places a new room: allocates its id and records it on the open shard holding the fewest
-- rooms (ties: the oldest shard). That shard's row stays locked until the room is recorded,
-- so it cannot close meanwhile; a placement that finds it locked by another takes the next
-- one, so a burst of new rooms spreads over the open shards. Fails with no open shard.
CREATE OR REPLACE FUNCTION parley_place_room() RETURNS room_shards
LANGUAGE plpgsql AS $$
DECLARE
  placed room_shards;
  target int;
BEGIN
  SELECT id INTO target FROM shards WHERE state = 'open' ORDER BY room_count, id LIMIT 1
     FOR NO KEY UPDATE SKIP LOCKED;
  IF target IS NULL THEN
    SELECT id INTO target FROM shards WHERE state = 'open' ORDER BY room_count, id LIMIT 1
       FOR NO KEY UPDATE;
  END IF;
  IF target IS NULL THEN
    RAISE EXCEPTION 'no shard is open for new rooms' USING ERRCODE = 'check_violation',
      CONSTRAINT = 'shards_none_open';
  END IF;
  INSERT INTO room_shards (room_id, shard_id) VALUES (nextval('room_ids'), target) RETURNING * INTO placed;
  RETURN placed;
END;
$$;
