-- Parley's message triggers. Installed by the migration drizzle/0009_message_counter_triggers.sql,
-- which must stay identical to this file (a test compares them); drizzle/0001 installed the
-- first version.

-- seq is a gapless per-room counter. Incrementing rooms.last_seq takes that room's row
-- lock until the transaction ends, so writers to one room are serialised and seq order
-- is commit order: a reader resuming "after seq N" can never miss a row that commits late.
-- Any seq supplied by the INSERT is replaced, so psql inserts get one too. The same update
-- keeps the room's message_count and last_message_at, so no answer ever counts the rows.
CREATE OR REPLACE FUNCTION parley_assign_message_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE rooms
     SET last_seq = last_seq + 1, message_count = message_count + 1, last_message_at = NEW.created_at
   WHERE id = NEW.room_id
  RETURNING last_seq INTO NEW.seq;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'room % does not exist', NEW.room_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
-- The notification is a doorbell, not the message: it names the room and seq only, so
-- it stays far below NOTIFY's 8000-byte payload limit whatever the body's size.
-- Listeners read the rows themselves. Payload: '<room_id>:<seq>'.
-- Posting also marks the room read up to the author's message: whoever posts has seen
-- the room, and so a room's unread count for a user is the room's messages after the mark.
CREATE OR REPLACE FUNCTION parley_notify_message() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO room_reads (room_id, user_id, last_read_seq)
  VALUES (NEW.room_id, NEW.user_id, NEW.seq)
  ON CONFLICT (room_id, user_id) DO UPDATE
    SET last_read_seq = excluded.last_read_seq, updated_at = now()
    WHERE room_reads.last_read_seq < excluded.last_read_seq;
  PERFORM pg_notify('parley_messages', NEW.room_id::text || ':' || NEW.seq::text);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A message deleted by hand leaves a hole in seq; the room's counters follow it. Once per
-- statement, over the rows it deleted, so deleting a whole room's history costs one update
-- of the room, not one per row. Listeners hear '<room_id>:deleted' on parley_messages and
-- forget the messages they keep in memory for resumes.
CREATE OR REPLACE FUNCTION parley_count_deleted_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE rooms r
     SET message_count = r.message_count - gone.n,
         last_message_at = (SELECT m.created_at FROM messages m WHERE m.room_id = r.id
                            ORDER BY m.seq DESC LIMIT 1)
    FROM (SELECT room_id, count(*) AS n FROM deleted_messages GROUP BY room_id) gone
   WHERE r.id = gone.room_id;
  PERFORM pg_notify('parley_messages', room_id::text || ':deleted')
     FROM (SELECT DISTINCT room_id FROM deleted_messages) AS rooms_touched;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_assign_seq ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_assign_seq BEFORE INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION parley_assign_message_seq();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_notify ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_notify AFTER INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION parley_notify_message();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_count_deleted ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_count_deleted AFTER DELETE ON messages
  REFERENCING OLD TABLE AS deleted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION parley_count_deleted_messages();
