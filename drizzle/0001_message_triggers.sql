-- Parley's message triggers. Installed by the migration drizzle/0001_message_triggers.sql,
-- which must stay identical to this file (a test compares them).

-- seq is a gapless per-room counter. Incrementing rooms.last_seq takes that room's row
-- lock until the transaction ends, so writers to one room are serialised and seq order
-- is commit order: a reader resuming "after seq N" can never miss a row that commits late.
-- Any seq supplied by the INSERT is replaced, so psql inserts get one too.
CREATE OR REPLACE FUNCTION parley_assign_message_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE rooms SET last_seq = last_seq + 1 WHERE id = NEW.room_id RETURNING last_seq INTO NEW.seq;
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
CREATE OR REPLACE FUNCTION parley_notify_message() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('parley_messages', NEW.room_id::text || ':' || NEW.seq::text);
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
