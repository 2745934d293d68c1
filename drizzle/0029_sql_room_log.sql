-- Copied from sql/room-log.sql by `npm run db:sql`; edit that file.
-- The room log: what happens to a room besides its message history, numbered per room.
-- `npm run db:sql` copies it into a migration after each change (test/db/migrations.test.ts
-- fails until it has).
--
-- Each room's log cursor (room_log_heads.last_cursor) is advanced under the row's lock,
-- held until commit, so log order is commit order and a reader resuming "after cursor N"
-- misses nothing that commits late. Heads are locked in room id order, after the
-- room_members rows the statement wrote, and nothing locks them in another order. Every
-- entry rings '<room_id>:<cursor>' on parley_room_log: a doorbell, naming no user.
-- Webhooks deliver the log (src/webhooks/); a further kind (a ban) is a further kind here.

-- Members added and removed, with psql too, once per statement over the rows it changed.
-- A room being deleted takes its members with it: that tells nobody anything.
CREATE OR REPLACE FUNCTION parley_log_members() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  log_kind text;
  room_ids bigint[];
  users text[];
  roles text[];
  rooms_told bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    log_kind := 'member_added';
    SELECT array_agg(m.room_id ORDER BY m.room_id, m.user_id), array_agg(m.user_id ORDER BY m.room_id, m.user_id),
           array_agg(m.role ORDER BY m.room_id, m.user_id)
      INTO room_ids, users, roles
      FROM added_members m;
  ELSE
    log_kind := 'member_removed';
    SELECT array_agg(m.room_id ORDER BY m.room_id, m.user_id), array_agg(m.user_id ORDER BY m.room_id, m.user_id),
           array_agg(m.role ORDER BY m.room_id, m.user_id)
      INTO room_ids, users, roles
      FROM removed_members m;
  END IF;
  WITH wanted AS (
    SELECT e.room_id, e.user_id, e.role, row_number() OVER (PARTITION BY e.room_id ORDER BY e.ord) AS n
      FROM unnest(room_ids, users, roles) WITH ORDINALITY AS e(room_id, user_id, role, ord)
      JOIN rooms r ON r.id = e.room_id
  ), counted AS (
    SELECT room_id, count(*) AS n FROM wanted GROUP BY room_id
  ), bumped AS (
    INSERT INTO room_log_heads AS h (room_id, last_cursor)
    SELECT room_id, n FROM counted ORDER BY room_id
    ON CONFLICT (room_id) DO UPDATE SET last_cursor = h.last_cursor + excluded.last_cursor
    RETURNING h.room_id, h.last_cursor
  ), logged AS (
    INSERT INTO room_log (room_id, cursor, kind, user_id, role)
    SELECT w.room_id, b.last_cursor - c.n + w.n, log_kind, w.user_id, w.role
      FROM wanted w JOIN counted c ON c.room_id = w.room_id JOIN bumped b ON b.room_id = w.room_id
  )
  SELECT count(pg_notify('parley_room_log', b.room_id::text || ':' || b.last_cursor::text))
    FROM bumped b INTO rooms_told;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_members_log_added ON room_members;
--> statement-breakpoint
CREATE TRIGGER room_members_log_added AFTER INSERT ON room_members
  REFERENCING NEW TABLE AS added_members
  FOR EACH STATEMENT EXECUTE FUNCTION parley_log_members();
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_members_log_removed ON room_members;
--> statement-breakpoint
CREATE TRIGGER room_members_log_removed AFTER DELETE ON room_members
  REFERENCING OLD TABLE AS removed_members
  FOR EACH STATEMENT EXECUTE FUNCTION parley_log_members();
