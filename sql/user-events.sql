-- Parley's per-user events: what concerns one person across rooms, for GET /me/stream.
-- `npm run db:sql` copies it into a migration after each change (test/db/migrations.test.ts
-- fails until it has).
--
-- Each user has a cursor (user_feeds.last_cursor) advanced by every event of theirs under
-- the row's lock, held until commit, so a user's cursor order is commit order and a stream
-- resuming "after cursor N" misses nothing that commits late. Rows are locked in user id
-- order, after whatever room rows the statement locked, so writers never deadlock. Every
-- event rings '<md5 of user_id>:<cursor>' on parley_users: a fixed-size payload whatever the
-- user id, naming no room. Listeners read the events themselves, under the access rules.
CREATE OR REPLACE FUNCTION parley_add_user_events(users text[], kinds text[], room_ids bigint[], seqs bigint[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  users_told bigint;
BEGIN
  WITH wanted AS (
    SELECT e.user_id, e.kind, e.room_id, e.seq,
           row_number() OVER (PARTITION BY e.user_id ORDER BY e.ord) AS n
      FROM unnest(users, kinds, room_ids, seqs) WITH ORDINALITY AS e(user_id, kind, room_id, seq, ord)
  ), counted AS (
    SELECT user_id, count(*) AS n FROM wanted GROUP BY user_id
  ), bumped AS (
    INSERT INTO user_feeds AS f (user_id, last_cursor)
    SELECT user_id, n FROM counted ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET last_cursor = f.last_cursor + excluded.last_cursor
    RETURNING f.user_id, f.last_cursor
  ), logged AS (
    INSERT INTO user_events (user_id, cursor, kind, room_id, seq)
    SELECT w.user_id, b.last_cursor - c.n + w.n, w.kind, w.room_id, w.seq
      FROM wanted w JOIN counted c ON c.user_id = w.user_id JOIN bumped b ON b.user_id = w.user_id
  )
  SELECT count(pg_notify('parley_users', md5(b.user_id) || ':' || b.last_cursor::text))
    FROM bumped b INTO users_told;
END;
$$;
--> statement-breakpoint
-- New messages: each person they mention, and in a direct message the other member, gets
-- an event. Once per statement over the rows it inserted; most statements name nobody
-- outside a direct message, and those rows set parley.user_events as they go (the numbering
-- for a direct message, the mention record for a name), so the rest return at once.
CREATE OR REPLACE FUNCTION parley_message_user_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  users text[];
  kinds text[];
  room_ids bigint[];
  seqs bigint[];
BEGIN
  IF coalesce(current_setting('parley.user_events', true), '') = '' THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('parley.user_events', '', true);
  SELECT array_agg(e.user_id ORDER BY e.room_id, e.seq, e.kind, e.user_id),
         array_agg(e.kind ORDER BY e.room_id, e.seq, e.kind, e.user_id),
         array_agg(e.room_id ORDER BY e.room_id, e.seq, e.kind, e.user_id),
         array_agg(e.seq ORDER BY e.room_id, e.seq, e.kind, e.user_id)
    INTO users, kinds, room_ids, seqs
    FROM (
      SELECT named.user_id, 'mention' AS kind, n.room_id, n.seq
        FROM new_messages n CROSS JOIN LATERAL unnest(n.mentions) AS named(user_id)
      UNION ALL
      SELECT other.user_id, 'dm', n.room_id, n.seq
        FROM new_messages n
        JOIN rooms r ON r.id = n.room_id AND r.kind = 'dm'
        CROSS JOIN LATERAL (VALUES (r.dm_low), (r.dm_high)) AS other(user_id)
       WHERE other.user_id <> n.user_id
    ) e;
  IF users IS NOT NULL THEN
    PERFORM parley_add_user_events(users, kinds, room_ids, seqs);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- An edit that names someone new tells them; those named before were told already.
CREATE OR REPLACE FUNCTION parley_edit_user_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  users text[];
BEGIN
  SELECT array_agg(u ORDER BY u) INTO users
    FROM (SELECT unnest(NEW.mentions) EXCEPT SELECT unnest(OLD.mentions)) AS added(u);
  IF users IS NOT NULL THEN
    PERFORM parley_add_user_events(users, array_fill('mention'::text, ARRAY[cardinality(users)]),
                                   array_fill(NEW.room_id, ARRAY[cardinality(users)]),
                                   array_fill(NEW.seq, ARRAY[cardinality(users)]));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Being added to a room (by someone else: a room's creator is not told of their own room)
-- and being removed from one, with psql too.
CREATE OR REPLACE FUNCTION parley_member_user_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  users text[];
  kinds text[];
  room_ids bigint[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(m.user_id ORDER BY m.room_id, m.user_id), array_agg('added'::text ORDER BY m.room_id, m.user_id),
           array_agg(m.room_id ORDER BY m.room_id, m.user_id)
      INTO users, kinds, room_ids
      FROM added_members m JOIN rooms r ON r.id = m.room_id
     WHERE m.user_id <> r.created_by;
  ELSE
    SELECT array_agg(m.user_id ORDER BY m.room_id, m.user_id), array_agg('removed'::text ORDER BY m.room_id, m.user_id),
           array_agg(m.room_id ORDER BY m.room_id, m.user_id)
      INTO users, kinds, room_ids
      FROM removed_members m;
  END IF;
  IF users IS NOT NULL THEN
    PERFORM parley_add_user_events(users, kinds, room_ids, array_fill(NULL::bigint, ARRAY[cardinality(users)]));
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_user_events ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_user_events AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_messages
  FOR EACH STATEMENT EXECUTE FUNCTION parley_message_user_events();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_edit_user_events ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_edit_user_events AFTER UPDATE ON messages
  FOR EACH ROW WHEN (OLD.mentions IS DISTINCT FROM NEW.mentions)
  EXECUTE FUNCTION parley_edit_user_events();
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_members_added_user_events ON room_members;
--> statement-breakpoint
CREATE TRIGGER room_members_added_user_events AFTER INSERT ON room_members
  REFERENCING NEW TABLE AS added_members
  FOR EACH STATEMENT EXECUTE FUNCTION parley_member_user_events();
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_members_removed_user_events ON room_members;
--> statement-breakpoint
CREATE TRIGGER room_members_removed_user_events AFTER DELETE ON room_members
  REFERENCING OLD TABLE AS removed_members
  FOR EACH STATEMENT EXECUTE FUNCTION parley_member_user_events();
