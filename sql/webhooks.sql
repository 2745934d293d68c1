-- Webhook endpoints' life in the database. `npm run db:sql` copies it into a migration after
-- each change (test/db/migrations.test.ts fails until it has).

-- Disables an endpoint and tells its owner, in one transaction: an event `webhook_disabled`
-- on their own stream (GET /me/stream), numbered by their cursor like every other, by
-- parley_add_user_events (sql/user-events.sql), which numbers events of rooms; the event
-- it wrote is then pointed at the endpoint. False when the endpoint was not enabled (another
-- instance disabled it first), and then nobody is told twice. The endpoint's row is locked
-- before the owner's feed, and nothing locks them in the other order.
CREATE OR REPLACE FUNCTION parley_disable_webhook(endpoint bigint, reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  owner text;
BEGIN
  UPDATE webhook_endpoints SET enabled = false, disabled_reason = reason, updated_at = now()
   WHERE id = endpoint AND enabled
  RETURNING owner_id INTO owner;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM parley_add_user_events(ARRAY[owner], ARRAY['webhook_disabled'], ARRAY[NULL::bigint], ARRAY[NULL::bigint]);
  UPDATE user_events e SET webhook_id = endpoint
    FROM user_feeds f
   WHERE f.user_id = owner AND e.user_id = owner AND e.cursor = f.last_cursor;
  RETURN true;
END;
$$;
--> statement-breakpoint
-- The rooms an endpoint of `owner_id` may follow: rooms it may read (sql/access.sql) that
-- it manages, as an owner or an admin. Never a direct message, which the lobby and search
-- show only to its two people, admins included. Asked at registration and again before
-- every delivery, so an owner who loses a room stops receiving it. Inlined like
-- parley_readable_rooms, when called in FROM.
CREATE OR REPLACE FUNCTION parley_webhook_rooms(owner_id text, is_admin boolean)
RETURNS SETOF rooms
LANGUAGE sql STABLE AS $$
  SELECT r.* FROM parley_readable_rooms(parley_webhook_rooms.owner_id, parley_webhook_rooms.is_admin) r
   WHERE r.kind = 'room'
     AND (parley_webhook_rooms.is_admin
          OR EXISTS (SELECT 1 FROM room_members m
                      WHERE m.room_id = r.id AND m.user_id = parley_webhook_rooms.owner_id AND m.role = 'owner'))
$$;
