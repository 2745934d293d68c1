-- Parley's message triggers. `npm run db:sql` copies them into a migration after each change
-- (test/db/migrations.test.ts fails until it has); earlier migrations hold earlier versions.
--
-- Every change to a room's history is numbered by the room's change cursor
-- (rooms.last_cursor): a new message, an edit, a delete (a tombstone over HTTP, a row
-- deleted by hand), a reaction added or removed. New messages carry their cursor in
-- messages.created_cursor; every other change is a row of message_changes. Each change
-- takes its locks in one order, the message's row and then the room's, and holds the
-- room's until it commits, so writers never deadlock and cursor order is commit order: a
-- reader resuming "after cursor N" can never miss a change that commits late.
-- Every change rings the same doorbell, '<room_id>:<cursor>' on parley_messages: it names
-- the room and the cursor only, so it stays far below NOTIFY's 8000-byte payload limit
-- whatever the body's size. Listeners read the changes themselves.

-- seq is a gapless per-room counter, advanced with the cursor. In a room that has only
-- seen inserts the two are equal. Any seq, cursor or lifecycle column supplied by the
-- INSERT is replaced, so psql inserts get them too. The room's row also keeps its
-- message_count and last_message_at, so no answer ever counts the rows. A reply locks its
-- parent first (to count it), keeping the message-then-room order.
--
-- A transaction's first message in a room locks and updates the room's row, as a single-row
-- insert always has; its further messages there are numbered from a cache of the
-- transaction's own, and the row is written once more when their statement ends
-- (parley_notify_messages). Updating one row again and again in a transaction costs more
-- each time, since each update leaves a version the next must step over: an insert ...
-- select of n rows into one room cost n².
--
-- The cache is transaction-local settings: room r's entry ' r:<seq>:<cursor>:<n>:<dm>' (n
-- messages numbered since its row was written; dm is 1 in a direct message) is in
-- parley.room_counters_<r % 256>, and parley.room_counters lists the settings that hold an
-- entry with n > 0. So a single-row insert costs one setting, and its statement's end
-- finds nothing to write. Not a setting per room: PostgreSQL 15 makes each new setting name
-- dearer than the last (19,000 names took six minutes), and a connection may post to every
-- room. Not one setting: every row rewrites its room's entry, and a statement over 10,000
-- rooms then rewrote 300 kB per row. The settings go with the transaction or savepoint that
-- set them, like the rows and the room's lock; anything else that takes a room's cursor
-- first writes the pending counters and forgets the room's entry
-- (parley_write_room_counters).
--
-- A message that concerns someone else's user stream (it names someone, or it is in a
-- direct message) sets parley.user_events, so the statements that concern nobody skip
-- parley_message_user_events at once.
CREATE OR REPLACE FUNCTION parley_assign_message_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  slot text := 'parley.room_counters_' || abs(NEW.room_id % 256);
  counters text := coalesce(current_setting(slot, true), '');
  room_key text := ' ' || NEW.room_id || ':';
  found_at int := strpos(counters, room_key);
  cached text;
  numbered bigint;
  dm boolean;
  listed text;
  written text;
BEGIN
  IF NEW.reply_to IS NOT NULL THEN
    UPDATE messages SET reply_count = reply_count + 1
     WHERE room_id = NEW.room_id AND seq = NEW.reply_to;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'message % of room % does not exist', NEW.reply_to, NEW.room_id
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'messages_reply_to_exists';
    END IF;
  END IF;
  IF found_at = 0 THEN
    UPDATE rooms
       SET last_seq = last_seq + 1, last_cursor = last_cursor + 1,
           message_count = message_count + 1, last_message_at = NEW.created_at
     WHERE id = NEW.room_id
    RETURNING last_seq, last_cursor, kind = 'dm' INTO NEW.seq, NEW.created_cursor, dm;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'room % does not exist', NEW.room_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    written := set_config(slot, counters || room_key || NEW.seq || ':' || NEW.created_cursor || ':0:'
                                || dm::int, true);
  ELSE
    cached := split_part(substr(counters, found_at + length(room_key)), ' ', 1);
    NEW.seq := split_part(cached, ':', 1)::bigint + 1;
    NEW.created_cursor := split_part(cached, ':', 2)::bigint + 1;
    numbered := split_part(cached, ':', 3)::bigint + 1;
    dm := split_part(cached, ':', 4) = '1';
    written := set_config(slot, overlay(counters placing NEW.seq || ':' || NEW.created_cursor || ':' || numbered
                                        || ':' || dm::int from found_at + length(room_key) for length(cached)), true);
    listed := coalesce(current_setting('parley.room_counters', true), '');
    IF strpos(listed || ' ', ' ' || slot || ' ') = 0 THEN
      written := set_config('parley.room_counters', listed || ' ' || slot, true);
    END IF;
  END IF;
  IF dm THEN
    written := set_config('parley.user_events', 'on', true);
  END IF;
  NEW.edited_at := NULL;
  NEW.deleted_at := NULL;
  NEW.reactions := '{}';
  NEW.reply_count := 0;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
-- Writes the rooms' rows for the messages numbered from the cache (parley_assign_message_seq)
-- and empties the settings that held them, then forgets the entries of `forget` (rooms whose
-- cursor the caller is about to take). Called when an insert statement ends, and before
-- anything else takes a room's cursor: an edit, delete or reaction in the transaction that
-- inserts takes the cursor after the messages numbered so far. The rooms' rows are locked
-- already, by the transaction's first message in each.
DROP FUNCTION IF EXISTS parley_write_room_counters();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_write_room_counters(forget bigint[] DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  slot text;
  entries text := '';
  emptied text;
BEGIN
  FOREACH slot IN ARRAY string_to_array(ltrim(coalesce(current_setting('parley.room_counters', true), '')), ' ') LOOP
    entries := entries || coalesce(current_setting(slot, true), '');
    emptied := set_config(slot, '', true);
  END LOOP;
  emptied := set_config('parley.room_counters', '', true);
  PERFORM set_config(s.slot, '', true)
     FROM (SELECT DISTINCT 'parley.room_counters_' || abs(room_id % 256) AS slot FROM unnest(forget) AS room_id) s
    WHERE current_setting(s.slot, true) <> '';
  UPDATE rooms r
     SET last_seq = c.seq, last_cursor = c.cursor, message_count = r.message_count + c.numbered,
         last_message_at = coalesce((SELECT m.created_at FROM messages m WHERE m.room_id = r.id AND m.seq = c.seq),
                                    r.last_message_at)
    FROM (SELECT split_part(entry, ':', 1)::bigint AS room_id, split_part(entry, ':', 2)::bigint AS seq,
                 split_part(entry, ':', 3)::bigint AS cursor, split_part(entry, ':', 4)::bigint AS numbered
            FROM unnest(string_to_array(ltrim(entries), ' ')) AS entry) c
   WHERE r.id = c.room_id AND c.numbered > 0;
END;
$$;
--> statement-breakpoint
-- Once per statement, over the rows it inserted: the rooms' rows are written (above), so
-- messages_assign_seq needs this trigger on. Each room's doorbell rings once, with its
-- newest cursor, however many messages a batch or a multi-row psql INSERT holds. Posting
-- also marks the room read up to the author's message: whoever posts has seen the room, and
-- so a room's unread count for a user is the room's messages after the mark. Marks are
-- written in (room, user) order, so concurrent batches never deadlock on them.
CREATE OR REPLACE FUNCTION parley_notify_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('parley.room_counters', true) <> '' THEN
    PERFORM parley_write_room_counters();
  END IF;
  INSERT INTO room_reads (room_id, user_id, last_read_seq)
  SELECT room_id, user_id, max(seq) FROM new_messages GROUP BY room_id, user_id ORDER BY room_id, user_id
  ON CONFLICT (room_id, user_id) DO UPDATE
    SET last_read_seq = excluded.last_read_seq, updated_at = now()
    WHERE room_reads.last_read_seq < excluded.last_read_seq;
  PERFORM pg_notify('parley_messages', room_id::text || ':' || max(created_cursor)::text)
     FROM new_messages GROUP BY room_id;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- An UPDATE of a message is a change when it edits the body (edited_at is set) or deletes
-- it (deleted_at is set: the body is emptied and its reactions go). A tombstone stays a
-- tombstone. Updates of the columns the triggers keep (reactions, reply_count) are not
-- changes of their own: the reaction or the reply that caused them is. id, room, seq and
-- cursor never change.
CREATE OR REPLACE FUNCTION parley_change_message() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  change_kind text;
  change_cursor bigint;
BEGIN
  IF NEW.id <> OLD.id OR NEW.room_id <> OLD.room_id OR NEW.seq <> OLD.seq
     OR NEW.created_cursor <> OLD.created_cursor THEN
    RAISE EXCEPTION 'a message''s id, room_id, seq and created_cursor never change'
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.deleted_at IS NOT NULL THEN
    NEW.deleted_at := OLD.deleted_at;
    NEW.edited_at := OLD.edited_at;
    NEW.body := '';
    NEW.reactions := '{}';
    RETURN NEW;
  ELSIF NEW.deleted_at IS NOT NULL THEN
    change_kind := 'delete';
    NEW.body := '';
    NEW.reactions := '{}';
  ELSIF NEW.body IS DISTINCT FROM OLD.body THEN
    change_kind := 'edit';
    NEW.edited_at := now();
  ELSE
    RETURN NEW;
  END IF;
  IF current_setting('parley.room_counters_' || abs(NEW.room_id % 256), true) <> '' THEN
    PERFORM parley_write_room_counters(ARRAY[NEW.room_id]);
  END IF;
  UPDATE rooms SET last_cursor = last_cursor + 1 WHERE id = NEW.room_id
  RETURNING last_cursor INTO change_cursor;
  INSERT INTO message_changes (room_id, cursor, seq, kind, user_id)
  VALUES (NEW.room_id, change_cursor, NEW.seq, change_kind,
          CASE WHEN change_kind = 'edit' THEN NEW.user_id END);
  PERFORM pg_notify('parley_messages', NEW.room_id::text || ':' || change_cursor::text);
  RETURN NEW;
END;
$$;
--> statement-breakpoint
-- A tombstone's reactions are removed with it; the delete is the one change announced.
CREATE OR REPLACE FUNCTION parley_clear_deleted_reactions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM message_reactions WHERE room_id = NEW.room_id AND seq = NEW.seq;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A message deleted by hand is gone from history: each is announced as a delete. Once per
-- statement, over the rows it deleted, so deleting a whole room's history costs one update
-- of the room, not one per row, and one doorbell per room. Replies to nothing are
-- uncounted from their parents first (message rows before the room's). The delete keeps
-- the message's insert cursor and its tombstone (never its body), so a stream replaying
-- from before the insert is sent the same cursors and events as one that was live: the
-- message (as a tombstone) at its cursor, its edits, then the delete.
CREATE OR REPLACE FUNCTION parley_count_deleted_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  rooms_touched bigint;
BEGIN
  PERFORM parley_write_room_counters(ARRAY(SELECT DISTINCT room_id FROM deleted_messages));
  UPDATE messages p SET reply_count = greatest(p.reply_count - r.n, 0)
    FROM (SELECT room_id, reply_to, count(*) AS n FROM deleted_messages
           WHERE reply_to IS NOT NULL GROUP BY room_id, reply_to) r
   WHERE p.room_id = r.room_id AND p.seq = r.reply_to;
  WITH gone AS (
    SELECT room_id, count(*) AS n FROM deleted_messages GROUP BY room_id
  ), bumped AS (
    UPDATE rooms r
       SET message_count = r.message_count - gone.n,
           last_cursor = r.last_cursor + gone.n,
           last_message_at = (SELECT m.created_at FROM messages m WHERE m.room_id = r.id
                              ORDER BY m.seq DESC LIMIT 1)
      FROM gone
     WHERE r.id = gone.room_id
    RETURNING r.id, r.last_cursor - gone.n AS first_cursor, r.last_cursor
  ), logged AS (
    INSERT INTO message_changes (room_id, cursor, seq, kind, message_cursor, tombstone)
    SELECT d.room_id, b.first_cursor + row_number() OVER (PARTITION BY d.room_id ORDER BY d.seq), d.seq, 'delete',
           d.created_cursor,
           jsonb_build_object('id', d.id, 'user_id', d.user_id, 'user_name', d.user_name,
                              'created_at', d.created_at, 'edited_at', d.edited_at,
                              'deleted_at', coalesce(d.deleted_at, now()),
                              'reply_to', d.reply_to, 'reply_count', d.reply_count, 'bot', d.bot)
      FROM deleted_messages d JOIN bumped b ON b.id = d.room_id
  )
  SELECT count(pg_notify('parley_messages', b.id::text || ':' || b.last_cursor::text))
    FROM bumped b INTO rooms_touched;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A reaction added or removed updates its message's totals (locking the message's row),
-- then takes the room's cursor; the change keeps its emoji's new count, which its event
-- carries (never the whole totals map, which every change would copy). A reaction to a
-- tombstone is refused; one removed because its message is being deleted (by the tombstone
-- or by hand) is not a change of its own.
--
-- A new reaction is refused past the caps of parley_settings: distinct emoji per message,
-- and reactions per person per message. They are checked after the totals' update, under
-- the message's row lock: every other reaction to the message waits for that lock, and the
-- count below is read after it with a fresh snapshot, so it sees each reaction committed
-- before, and a burst can never admit more than the cap. A cap read from a table, not
-- passed in, holds for psql inserts too; the server writes its configuration there at start.
CREATE OR REPLACE FUNCTION parley_count_reaction() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  reaction message_reactions;
  delta int;
  totals jsonb;
  emoji_count int;
  change_cursor bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    reaction := NEW;
    delta := 1;
  ELSE
    reaction := OLD;
    delta := -1;
  END IF;
  UPDATE messages m
     SET reactions = CASE
           WHEN coalesce((m.reactions ->> reaction.emoji)::int, 0) + delta > 0
             THEN jsonb_set(m.reactions, ARRAY[reaction.emoji],
                            to_jsonb(coalesce((m.reactions ->> reaction.emoji)::int, 0) + delta))
           ELSE m.reactions - reaction.emoji
         END
   WHERE m.room_id = reaction.room_id AND m.seq = reaction.seq AND m.deleted_at IS NULL
  RETURNING m.reactions INTO totals;
  IF NOT FOUND THEN
    IF TG_OP = 'INSERT' THEN
      RAISE EXCEPTION 'message % of room % is deleted', reaction.seq, reaction.room_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'message_reactions_message_deleted';
    END IF;
    RETURN NULL;
  END IF;
  emoji_count := coalesce((totals ->> reaction.emoji)::int, 0);
  IF TG_OP = 'INSERT' THEN
    IF emoji_count = 1 AND (SELECT count(*) FROM jsonb_object_keys(totals))
         > (SELECT value FROM parley_settings WHERE name = 'reactions_per_message') THEN
      RAISE EXCEPTION 'message % of room % has as many different reactions as it may', reaction.seq, reaction.room_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'message_reactions_per_message';
    END IF;
    IF (SELECT count(*) FROM message_reactions r
         WHERE r.room_id = reaction.room_id AND r.seq = reaction.seq AND r.user_id = reaction.user_id)
         > (SELECT value FROM parley_settings WHERE name = 'reactions_per_user_per_message') THEN
      RAISE EXCEPTION '% has as many reactions to message % of room % as one may', reaction.user_id, reaction.seq, reaction.room_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'message_reactions_per_user';
    END IF;
  END IF;
  IF current_setting('parley.room_counters_' || abs(reaction.room_id % 256), true) <> '' THEN
    PERFORM parley_write_room_counters(ARRAY[reaction.room_id]);
  END IF;
  UPDATE rooms SET last_cursor = last_cursor + 1 WHERE id = reaction.room_id
  RETURNING last_cursor INTO change_cursor;
  INSERT INTO message_changes (room_id, cursor, seq, kind, user_id, emoji, action, count)
  VALUES (reaction.room_id, change_cursor, reaction.seq, 'reaction', reaction.user_id, reaction.emoji,
          CASE WHEN delta > 0 THEN 'added' ELSE 'removed' END, emoji_count);
  PERFORM pg_notify('parley_messages', reaction.room_id::text || ':' || change_cursor::text);
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
  REFERENCING NEW TABLE AS new_messages
  FOR EACH STATEMENT EXECUTE FUNCTION parley_notify_messages();
--> statement-breakpoint
DROP FUNCTION IF EXISTS parley_notify_message();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_change ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_change BEFORE UPDATE ON messages
  FOR EACH ROW EXECUTE FUNCTION parley_change_message();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_clear_deleted_reactions ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_clear_deleted_reactions AFTER UPDATE ON messages
  FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION parley_clear_deleted_reactions();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_count_deleted ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_count_deleted AFTER DELETE ON messages
  REFERENCING OLD TABLE AS deleted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION parley_count_deleted_messages();
--> statement-breakpoint
DROP TRIGGER IF EXISTS message_reactions_count ON message_reactions;
--> statement-breakpoint
CREATE TRIGGER message_reactions_count AFTER INSERT OR DELETE ON message_reactions
  FOR EACH ROW EXECUTE FUNCTION parley_count_reaction();
