-- Copied from sql/mentions.sql by `npm run db:sql`; edit that file.
-- Parley's mention triggers. `npm run db:sql` copies them into a migration after each change
-- (test/db/migrations.test.ts fails until it has).
--
-- A mention is '@' then a user id (letters, digits, '_', '.', '-', starting and ending with
-- a letter, digit or '_'), at the start of the body or after a character that cannot be part
-- of a word, so an e-mail address names nobody. It counts when the named user may read the
-- room as the message is stored (sql/access.sql, asked without admin rights) and the room
-- knows them: a member, or someone with a read mark there, which everyone who posted there
-- has (sql/messages.sql marks an author's room read). Anyone may read a public room, so
-- without the second rule any string after '@' would become a mention, a user event and a
-- user_feeds row for a user who may not exist, rows nobody ever reads. The
-- author is never their own mention, and a message names at most 50 people (its first 50).
-- Kept on insert and on every change of the body, so psql inserts and edits count too, and
-- a deleted message (body '') names nobody.
CREATE OR REPLACE FUNCTION parley_set_mentions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.body IS NOT DISTINCT FROM OLD.body THEN
    NEW.mentions := OLD.mentions;
    RETURN NEW;
  END IF;
  IF strpos(NEW.body, '@') = 0 THEN
    NEW.mentions := '{}';
    RETURN NEW;
  END IF;
  SELECT coalesce(array_agg(named.user_id ORDER BY named.first), '{}') INTO NEW.mentions
    FROM (
      SELECT found.match[2] AS user_id, min(found.n) AS first
        FROM regexp_matches(NEW.body, '(^|[^\w@])@(\w(?:[\w.-]*\w)?)', 'g')
             WITH ORDINALITY AS found(match, n)
       WHERE found.match[2] <> NEW.user_id
       GROUP BY found.match[2]
       ORDER BY first
       LIMIT 50
    ) named
   WHERE EXISTS (SELECT 1 FROM parley_readable_rooms(named.user_id, false) r WHERE r.id = NEW.room_id)
     AND (EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = NEW.room_id AND m.user_id = named.user_id)
          OR EXISTS (SELECT 1 FROM room_reads rr WHERE rr.room_id = NEW.room_id AND rr.user_id = named.user_id));
  RETURN NEW;
END;
$$;
--> statement-breakpoint
-- message_mentions mirrors messages.mentions: a new message's rows, for each message that
-- names someone (the trigger's WHEN), so a message naming nobody pays nothing here. It also
-- tells parley_message_user_events, which runs at the statement's end after every row's
-- AFTER trigger, that the statement has someone to tell (sql/messages.sql).
CREATE OR REPLACE FUNCTION parley_record_mentions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO message_mentions (user_id, message_id, room_id, seq)
  SELECT named.user_id, NEW.id, NEW.room_id, NEW.seq FROM unnest(NEW.mentions) AS named(user_id);
  PERFORM set_config('parley.user_events', 'on', true);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- An edit or a delete that changed who is named replaces the message's rows.
CREATE OR REPLACE FUNCTION parley_update_mentions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM message_mentions WHERE room_id = NEW.room_id AND seq = NEW.seq;
  INSERT INTO message_mentions (user_id, message_id, room_id, seq)
  SELECT named.user_id, NEW.id, NEW.room_id, NEW.seq FROM unnest(NEW.mentions) AS named(user_id);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_set_mentions ON messages;
--> statement-breakpoint
-- The WHENs spare the function the messages it would leave as they are: a new message without
-- an '@' (and without mentions of its own to clear), and an update that changes neither body
-- nor mentions (a reaction's totals, a reply's count). Both are named to fire after
-- messages_assign_seq and messages_change (triggers of one event fire in name order), so the
-- second sees the body a delete has emptied.
CREATE TRIGGER messages_set_mentions BEFORE INSERT ON messages
  FOR EACH ROW WHEN (strpos(NEW.body, '@') > 0 OR NEW.mentions IS DISTINCT FROM '{}')
  EXECUTE FUNCTION parley_set_mentions();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_set_mentions_on_edit ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_set_mentions_on_edit BEFORE UPDATE ON messages
  FOR EACH ROW WHEN (NEW.body IS DISTINCT FROM OLD.body OR NEW.mentions IS DISTINCT FROM OLD.mentions)
  EXECUTE FUNCTION parley_set_mentions();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_record_mentions ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_record_mentions AFTER INSERT ON messages
  FOR EACH ROW WHEN (cardinality(NEW.mentions) > 0)
  EXECUTE FUNCTION parley_record_mentions();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_update_mentions ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_update_mentions AFTER UPDATE ON messages
  FOR EACH ROW WHEN (OLD.mentions IS DISTINCT FROM NEW.mentions)
  EXECUTE FUNCTION parley_update_mentions();
