-- Parley's presence writes: who is connected to which room, across instances.
-- `npm run db:sql` copies them into a migration after each change (test/db/migrations.test.ts
-- fails until it has).
--
-- Each function is called as one statement on the server's pool, so no transaction stays
-- open between round trips and no connection is reserved for one: if the backend dies, the
-- statement fails and nothing is left to roll back from the client. Each needs a lock before
-- its reads, and a read after the lock must see what the lock's previous holder committed.
-- It does: under READ COMMITTED every statement of a volatile PL/pgSQL function takes a
-- fresh snapshot, so a statement after pg_advisory_xact_lock sees every commit made before
-- the lock was granted, as a separate statement after the lock in a client transaction
-- would. The locks are held, and the notifications sent, when the calling statement commits.
--
-- A presence frame is the JSON that encodeRoomEvent in src/db/notify.ts writes for a room's
-- 'presence' event, byte for byte: {"room_id":…,"event":"presence","data":{"joined":[…],
-- "left":[…],"count":…}}, each person {"user_id":…,"user_name":…}. The channel is passed in
-- by the caller, which names it (channels.events).

-- One frame's payload. to_json escapes a string exactly as JSON.stringify does.
CREATE OR REPLACE FUNCTION parley_presence_frame(room_id bigint, joined text[], gone text[], head_count integer)
RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT format('{"room_id":%s,"event":"presence","data":{"joined":[%s],"left":[%s],"count":%s}}',
                room_id, array_to_string(joined, ','), array_to_string(gone, ','), head_count)
$$;
--> statement-breakpoint
-- Announces who came (came = true) and who went in each room: one frame per room, more only
-- if its lists would not fit a notification (NOTIFY refuses 8000 bytes or more; frames stay
-- under 7000), each with the room's head count. Above list_max people, or more than list_max
-- coming and going at once, the frame carries the count only: a crowd that leaves together
-- is not named in full to those who stay.
--
-- Each room is counted under its lock, held until commit: batches of one room from any
-- instance count one after another, each seeing the ones before, and their frames are
-- announced in that order, so the last frame always carries the true count. Rooms are
-- locked in id order, after any (room, user) locks the caller holds.
CREATE OR REPLACE FUNCTION parley_presence_announce(
  channel text, ttl_ms integer, list_max integer,
  room_ids bigint[], user_ids text[], user_names text[], came boolean[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lock_room bigint;
  room record;
  person record;
  item text;
  joined text[];
  gone text[];
  bytes integer;
BEGIN
  FOR lock_room IN SELECT DISTINCT r FROM unnest(room_ids) AS r ORDER BY r LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended('presence:' || lock_room, 0));
  END LOOP;
  FOR room IN
    SELECT t.room_id, count(*) AS changed,
           (SELECT count(DISTINCT p.user_id)::int
              FROM stream_presence p JOIN parley_instances i ON i.id = p.instance_id
             WHERE p.room_id = t.room_id
               AND i.heartbeat_at > now() - ttl_ms * interval '1 millisecond') AS head_count
      FROM unnest(room_ids) AS t(room_id)
     GROUP BY t.room_id ORDER BY t.room_id
  LOOP
    IF room.head_count > list_max OR room.changed > list_max THEN
      PERFORM pg_notify(channel, parley_presence_frame(room.room_id, '{}', '{}', room.head_count));
      CONTINUE;
    END IF;
    joined := '{}';
    gone := '{}';
    bytes := 120;
    FOR person IN
      SELECT t.user_id, t.user_name, t.came
        FROM unnest(room_ids, user_ids, user_names, came) WITH ORDINALITY AS t(room_id, user_id, user_name, came, n)
       WHERE t.room_id = room.room_id
       ORDER BY NOT t.came, t.n
    LOOP
      item := format('{"user_id":%s,"user_name":%s}', to_json(person.user_id), to_json(person.user_name));
      IF bytes + octet_length(item) + 1 > 7000 AND cardinality(joined) + cardinality(gone) > 0 THEN
        PERFORM pg_notify(channel, parley_presence_frame(room.room_id, joined, gone, room.head_count));
        joined := '{}';
        gone := '{}';
        bytes := 120;
      END IF;
      IF person.came THEN
        joined := joined || item;
      ELSE
        gone := gone || item;
      END IF;
      bytes := bytes + octet_length(item) + 1;
    END LOOP;
    PERFORM pg_notify(channel, parley_presence_frame(room.room_id, joined, gone, room.head_count));
  END LOOP;
END;
$$;
--> statement-breakpoint
-- One instance's batch of changes: present = true for a (room, user) whose first stream on
-- it opened, false for one whose last stream closed. Each (room, user) is locked first, in
-- one order on every instance, so two instances never both announce the same user; someone
-- still present on another live instance neither came nor went, and is not announced.
CREATE OR REPLACE FUNCTION parley_presence_write(
  channel text, instance text, ttl_ms integer, list_max integer,
  room_ids bigint[], user_ids text[], user_names text[], present boolean[])
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lock_key text;
  told_rooms bigint[];
  told_users text[];
  told_names text[];
  told_came boolean[];
BEGIN
  FOR lock_key IN
    SELECT DISTINCT (t.room_id || ':' || t.user_id) COLLATE "C" AS k
      FROM unnest(room_ids, user_ids) AS t(room_id, user_id) ORDER BY k
  LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(lock_key, 0));
  END LOOP;
  INSERT INTO stream_presence (instance_id, room_id, user_id, user_name)
  SELECT instance, t.room_id, t.user_id, t.user_name
    FROM unnest(room_ids, user_ids, user_names, present) AS t(room_id, user_id, user_name, present)
   WHERE t.present
  ON CONFLICT DO NOTHING;
  DELETE FROM stream_presence p
   USING unnest(room_ids, user_ids, present) AS t(room_id, user_id, present)
   WHERE NOT t.present AND p.instance_id = instance AND p.room_id = t.room_id AND p.user_id = t.user_id;
  SELECT array_agg(t.room_id ORDER BY t.n), array_agg(t.user_id ORDER BY t.n),
         array_agg(t.user_name ORDER BY t.n), array_agg(t.present ORDER BY t.n)
    INTO told_rooms, told_users, told_names, told_came
    FROM unnest(room_ids, user_ids, user_names, present) WITH ORDINALITY AS t(room_id, user_id, user_name, present, n)
   WHERE NOT EXISTS (
     SELECT 1 FROM stream_presence p JOIN parley_instances i ON i.id = p.instance_id
      WHERE p.room_id = t.room_id AND p.user_id = t.user_id AND p.instance_id <> instance
        AND i.heartbeat_at > now() - ttl_ms * interval '1 millisecond');
  IF told_rooms IS NOT NULL THEN
    PERFORM parley_presence_announce(channel, ttl_ms, list_max, told_rooms, told_users, told_names, told_came);
  END IF;
END;
$$;
--> statement-breakpoint
-- Removes the instances that stopped heartbeating, with their presence, and announces the
-- users that left with them: those not present on any live instance that remains.
CREATE OR REPLACE FUNCTION parley_presence_sweep(channel text, ttl_ms integer, list_max integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  gone_rooms bigint[];
  gone_users text[];
  gone_names text[];
BEGIN
  WITH dead AS (
    DELETE FROM parley_instances i
     WHERE NOT (i.heartbeat_at > now() - ttl_ms * interval '1 millisecond')
    RETURNING i.id
  ), vanished AS (
    DELETE FROM stream_presence p USING dead WHERE p.instance_id = dead.id
    RETURNING p.room_id, p.user_id, p.user_name
  ), gone AS (
    SELECT DISTINCT ON (v.room_id, v.user_id) v.room_id, v.user_id, v.user_name
      FROM vanished v
     WHERE NOT EXISTS (
       SELECT 1 FROM stream_presence q JOIN parley_instances i ON i.id = q.instance_id
        WHERE q.room_id = v.room_id AND q.user_id = v.user_id
          AND i.heartbeat_at > now() - ttl_ms * interval '1 millisecond'
          AND q.instance_id NOT IN (SELECT id FROM dead))
     ORDER BY v.room_id, v.user_id
  )
  SELECT array_agg(room_id), array_agg(user_id), array_agg(user_name)
    INTO gone_rooms, gone_users, gone_names
    FROM gone;
  IF gone_rooms IS NOT NULL THEN
    PERFORM parley_presence_announce(channel, ttl_ms, list_max, gone_rooms, gone_users, gone_names,
                                     array_fill(false, ARRAY[cardinality(gone_rooms)]));
  END IF;
END;
$$;
