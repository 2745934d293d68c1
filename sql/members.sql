-- Parley's membership trigger. `npm run db:sql` copies it into a migration after each change
-- (test/db/migrations.test.ts fails until it has).

-- Removing a member announces '<room_id>:<user_id>' on parley_members. Every Parley
-- instance hears it on its one LISTEN connection and closes that user's streams of the
-- room if they may no longer read it. Deleting a room removes its members too, so its
-- streams close the same way. Works for rows deleted with psql as well.
CREATE OR REPLACE FUNCTION parley_notify_member_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('parley_members', OLD.room_id::text || ':' || OLD.user_id);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS room_members_notify_removed ON room_members;
--> statement-breakpoint
CREATE TRIGGER room_members_notify_removed AFTER DELETE ON room_members
  FOR EACH ROW EXECUTE FUNCTION parley_notify_member_removed();
