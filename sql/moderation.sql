-- Room moderation: bans, mutes, slow mode, reports and the audit log (docs/moderation.md).
-- `npm run db:sql` copies it into a migration after each change (test/db/migrations.test.ts
-- fails until it has).
--
-- Who may read a room, bans included, is sql/access.sql's rule; this file holds what a ban,
-- a mute, a report or a role change sets off, for rows written with psql as over HTTP. A ban
-- or a mute whose `until` has passed is over: every rule asks parley_in_force
-- (sql/access.sql), which compares `until > now()`, so none waits for the retention sweep,
-- which only deletes such rows to keep the tables small.
--
-- Every moderation action is written to moderation_log by these triggers. Who did it is
-- the row's own `created_by` for a ban or a mute, and otherwise the transaction's
-- `parley.actor` setting, which Parley sets in the statement that acts
-- (`set_config('parley.actor', <user id>, true)`, src/chat/moderation.ts); a statement
-- typed in psql without it is put down to the database role that ran it.

-- Who acts in this transaction: Parley's user, or the database role of a psql session.
CREATE OR REPLACE FUNCTION parley_actor() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('parley.actor', true), ''), session_user::text)
$$;
--> statement-breakpoint
-- The mute in force for a user in a room, if any: the one copy of what "muted" means, read
-- by the access check (src/chat/access.ts) and by posting's batch (src/chat/posting.ts).
-- Inlined into the caller's query when called in FROM, like parley_readable_rooms.
CREATE OR REPLACE FUNCTION parley_mute_of(room_id bigint, user_id text)
RETURNS SETOF room_mutes
LANGUAGE sql STABLE AS $$
  SELECT m.* FROM room_mutes m
   WHERE m.room_id = parley_mute_of.room_id AND m.user_id = parley_mute_of.user_id
     AND parley_in_force(m.until)
$$;
--> statement-breakpoint
-- Slow mode: in a room with slow_mode_seconds > 0, a user posts at most once per that many
-- seconds; its owners and moderators are exempt (admins too: their posts are never asked
-- about). For the (room, user) pairs given, once each however often a pair is repeated,
-- returns those subject to slow mode: whether this post took the pair's slot (`admitted`),
-- the room's interval, and for a refused pair the seconds until its slot is free again.
--
-- The slot is a room_post_marks row, taken by an upsert: a concurrent take of the same
-- pair, from this instance or another, waits for the row's lock and then compares with the
-- time the other one wrote, so a burst is admitted once per interval. Called within the
-- statement that inserts the posts (src/chat/posting.ts), so a post that fails gives its
-- slot back. Pairs are locked in (room, user) order.
CREATE OR REPLACE FUNCTION parley_pace_posts(room_ids bigint[], user_ids text[])
RETURNS TABLE (room_id bigint, user_id text, admitted boolean, interval_seconds integer, wait_seconds integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  paced_rooms bigint[];
  paced_users text[];
  paced_admitted boolean[];
BEGIN
  WITH asked AS (
    SELECT DISTINCT t.room_id, t.user_id
      FROM unnest(room_ids, user_ids) AS t(room_id, user_id)
      JOIN rooms r ON r.id = t.room_id
     WHERE r.slow_mode_seconds > 0
       AND NOT EXISTS (SELECT 1 FROM room_members m
                        WHERE m.room_id = t.room_id AND m.user_id = t.user_id
                          AND m.role IN ('owner', 'moderator'))
  ), taken AS (
    INSERT INTO room_post_marks AS pm (room_id, user_id, posted_at)
    SELECT a.room_id, a.user_id, now() FROM asked a ORDER BY a.room_id, a.user_id
    ON CONFLICT (room_id, user_id) DO UPDATE SET posted_at = excluded.posted_at
     WHERE pm.posted_at <= excluded.posted_at
           - make_interval(secs => (SELECT r.slow_mode_seconds FROM rooms r WHERE r.id = pm.room_id))
    RETURNING pm.room_id, pm.user_id
  )
  SELECT array_agg(a.room_id), array_agg(a.user_id), array_agg(t.room_id IS NOT NULL)
    INTO paced_rooms, paced_users, paced_admitted
    FROM asked a LEFT JOIN taken t ON t.room_id = a.room_id AND t.user_id = a.user_id;
  -- A statement of its own, whose snapshot sees the slot a concurrent post took.
  RETURN QUERY
    SELECT p.room_id, p.user_id, p.admitted, r.slow_mode_seconds,
           CASE WHEN NOT p.admitted THEN
             greatest(1, ceil(extract(epoch FROM pm.posted_at + make_interval(secs => r.slow_mode_seconds) - now())))::integer
           END
      FROM unnest(paced_rooms, paced_users, paced_admitted) AS p(room_id, user_id, admitted)
      JOIN rooms r ON r.id = p.room_id
      LEFT JOIN room_post_marks pm ON pm.room_id = p.room_id AND pm.user_id = p.user_id;
END;
$$;
--> statement-breakpoint
-- One entry of the audit log; what an entry holds besides who, whom and why depends on its
-- action (docs/moderation.md).
CREATE OR REPLACE FUNCTION parley_audit(room bigint, what text, actor text, target text,
                                        why text DEFAULT NULL, ends timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE sql AS $$
  INSERT INTO moderation_log (room_id, action, actor_id, target_id, reason, until)
  VALUES (room, what, actor, target, why, ends)
$$;
--> statement-breakpoint
-- A ban takes effect at once, for psql inserts too: the user stops being a member (as on
-- Discord or Matrix, a ban removes; lifting it lets them rejoin a public room, or be added
-- to a private one, again), and every instance closes their streams of the room with
-- `removed` (the parley_members doorbell, as for a member removed; it is rung for users who
-- were never members too, since anyone may hold a public room's stream). Their own stream
-- gets `removed`, from the membership's trigger or else here. A ban replaced while in force
-- (a new reason or end) changes nothing for them, and one whose end has passed is over.
CREATE OR REPLACE FUNCTION parley_ban_applied() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM parley_audit(NEW.room_id, 'ban', NEW.created_by, NEW.user_id, NEW.reason, NEW.until);
  IF NOT parley_in_force(NEW.until) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND parley_in_force(OLD.until) THEN
    RETURN NULL;
  END IF;
  DELETE FROM room_members WHERE room_id = NEW.room_id AND user_id = NEW.user_id;
  IF NOT FOUND THEN
    PERFORM parley_add_user_events(ARRAY[NEW.user_id], ARRAY['removed'], ARRAY[NEW.room_id], ARRAY[NULL::bigint]);
  END IF;
  PERFORM pg_notify('parley_members', NEW.room_id::text || ':' || NEW.user_id);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A mute changes nothing live: posting asks parley_mute_of at every post. Only audited.
CREATE OR REPLACE FUNCTION parley_mute_applied() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM parley_audit(NEW.room_id, 'mute', NEW.created_by, NEW.user_id, NEW.reason, NEW.until);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Lifting a ban or a mute in force is audited; deleting one that had ended (the retention
-- sweep does) is not an action of anyone's.
CREATE OR REPLACE FUNCTION parley_restriction_lifted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF parley_in_force(OLD.until) THEN
    PERFORM parley_audit(OLD.room_id, TG_ARGV[0], parley_actor(), OLD.user_id);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Appointing a moderator (a member given the role, or someone added with it) and
-- dismissing one (the role taken back); a moderator who leaves or is removed is a member
-- removed, which the room log records.
CREATE OR REPLACE FUNCTION parley_role_audited() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.role = 'moderator' AND (TG_OP = 'INSERT' OR OLD.role <> 'moderator') THEN
    PERFORM parley_audit(NEW.room_id, 'appoint', parley_actor(), NEW.user_id);
  ELSIF TG_OP = 'UPDATE' AND OLD.role = 'moderator' AND NEW.role <> 'moderator' THEN
    PERFORM parley_audit(NEW.room_id, 'dismiss', parley_actor(), NEW.user_id);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_slow_mode_audited() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO moderation_log (room_id, action, actor_id, seconds)
  VALUES (NEW.id, 'slow_mode', parley_actor(), NEW.slow_mode_seconds);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A message deleted by someone other than its author. One entry per transaction, actor
-- and author however many messages it deletes, with their seqs: deleting all of a user's
-- messages is one action, whose entry carries up to a call's thousand seqs. The entry is
-- found again by the transaction's id (unique in the log while it holds such entries).
CREATE OR REPLACE FUNCTION parley_delete_audited() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  actor text := parley_actor();
BEGIN
  IF actor = NEW.user_id THEN
    RETURN NULL;
  END IF;
  INSERT INTO moderation_log AS l (room_id, action, actor_id, target_id, seqs, xact)
  VALUES (NEW.room_id, 'message_deleted', actor, NEW.user_id, ARRAY[NEW.seq],
          pg_current_xact_id()::text::bigint)
  ON CONFLICT (xact, room_id, actor_id, target_id) WHERE action = 'message_deleted'
  DO UPDATE SET seqs = l.seqs || excluded.seqs;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- A new report: each of the room's owners and moderators but the reporter gets a `report`
-- event on their own stream (GET /me/stream), numbered like every other by
-- parley_add_user_events (sql/user-events.sql), then pointed at the report.
CREATE OR REPLACE FUNCTION parley_report_filed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  users text[];
BEGIN
  SELECT array_agg(m.user_id ORDER BY m.user_id) INTO users
    FROM room_members m
   WHERE m.room_id = NEW.room_id AND m.role IN ('owner', 'moderator') AND m.user_id <> NEW.reporter_id;
  IF users IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM parley_add_user_events(users, array_fill('report'::text, ARRAY[cardinality(users)]),
                                 array_fill(NEW.room_id, ARRAY[cardinality(users)]),
                                 array_fill(NEW.seq, ARRAY[cardinality(users)]));
  UPDATE user_events e SET report_id = NEW.id
    FROM user_feeds f
   WHERE f.user_id = ANY (users) AND e.user_id = f.user_id AND e.cursor = f.last_cursor;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_report_resolved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO moderation_log (room_id, action, actor_id, target_id, reason, report_id)
  VALUES (NEW.room_id, 'report_resolved', NEW.resolved_by, NEW.author_id,
          NEW.resolution || coalesce(': ' || NEW.note, ''), NEW.id);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_bans_applied ON room_bans;
--> statement-breakpoint
CREATE TRIGGER room_bans_applied AFTER INSERT OR UPDATE ON room_bans
  FOR EACH ROW EXECUTE FUNCTION parley_ban_applied();
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_bans_lifted ON room_bans;
--> statement-breakpoint
CREATE TRIGGER room_bans_lifted AFTER DELETE ON room_bans
  FOR EACH ROW EXECUTE FUNCTION parley_restriction_lifted('unban');
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_mutes_applied ON room_mutes;
--> statement-breakpoint
CREATE TRIGGER room_mutes_applied AFTER INSERT OR UPDATE ON room_mutes
  FOR EACH ROW EXECUTE FUNCTION parley_mute_applied();
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_mutes_lifted ON room_mutes;
--> statement-breakpoint
CREATE TRIGGER room_mutes_lifted AFTER DELETE ON room_mutes
  FOR EACH ROW EXECUTE FUNCTION parley_restriction_lifted('unmute');
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_members_role_audited ON room_members;
--> statement-breakpoint
CREATE TRIGGER room_members_role_audited AFTER INSERT OR UPDATE OF role ON room_members
  FOR EACH ROW EXECUTE FUNCTION parley_role_audited();
--> statement-breakpoint
DROP TRIGGER IF EXISTS rooms_slow_mode_audited ON rooms;
--> statement-breakpoint
CREATE TRIGGER rooms_slow_mode_audited AFTER UPDATE OF slow_mode_seconds ON rooms
  FOR EACH ROW WHEN (OLD.slow_mode_seconds IS DISTINCT FROM NEW.slow_mode_seconds)
  EXECUTE FUNCTION parley_slow_mode_audited();
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_delete_audited ON messages;
--> statement-breakpoint
CREATE TRIGGER messages_delete_audited AFTER UPDATE ON messages
  FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION parley_delete_audited();
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_reports_filed ON room_reports;
--> statement-breakpoint
CREATE TRIGGER room_reports_filed AFTER INSERT ON room_reports
  FOR EACH ROW EXECUTE FUNCTION parley_report_filed();
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_reports_resolved ON room_reports;
--> statement-breakpoint
CREATE TRIGGER room_reports_resolved AFTER UPDATE OF resolved_at ON room_reports
  FOR EACH ROW WHEN (OLD.resolved_at IS NULL AND NEW.resolved_at IS NOT NULL)
  EXECUTE FUNCTION parley_report_resolved();
