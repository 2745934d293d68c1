-- Who may read a room: the one place the rule is written. `npm run db:sql` copies it into a
-- migration after each change (test/db/migrations.test.ts fails until it has).
--
-- Every check reads it: the server's (src/chat/access.ts: opening a room and its streams,
-- the lobby, search, mentions, posting's batches, the user stream's events) and the mention
-- trigger's (sql/mentions.sql, which asks for the person named, never as an admin). A room
-- that does not exist is read by nobody, so a missing room and a hidden one look alike and
-- a private room's existence does not leak.
--
-- Anyone may read a public room; a private one, its members and admins; a room that has
-- banned a user, not that user until the ban ends (`until` null: until it is lifted), which
-- needs no sweep, and which the ban's trigger announces to every instance like a removal
-- (sql/moderation.sql). Admins are never banned. A direct message is
-- a private room whose members are its two people (the rooms_dm_pair constraint), read by
-- them and by admins like any private room; that the lobby lists it to its two people only,
-- admins included, is a rule of listing (src/chat/rooms.ts), not of reading.
--
-- It returns the readable rooms rather than a yes or no, because PostgreSQL inlines a SQL
-- function only when it is a single SELECT and, for one returning a boolean, only when that
-- SELECT holds no subquery: a boolean version would be called once per row (ten times the
-- lobby's cost over 10,000 rooms). Called in FROM (`FROM parley_readable_rooms($1, $2) r`)
-- it is inlined into the caller's query, STABLE and without SET or SECURITY DEFINER, and
-- plans as the rooms table with this condition: the same indexes (rooms_pkey, the
-- room_members and room_bans primary keys) as the condition written out. A further rule
-- (an archived room) is a further condition here.
-- Whether a ban or a mute ending at `until` (null: when lifted) is in force: the one copy
-- of that rule, which every reader of room_bans and room_mutes asks (sql/moderation.sql,
-- src/chat/restrictions.ts). A single expression, so it is inlined wherever it is called.
CREATE OR REPLACE FUNCTION parley_in_force(until timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT until IS NULL OR until > now()
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION parley_readable_rooms(user_id text, is_admin boolean)
RETURNS SETOF rooms
LANGUAGE sql STABLE AS $$
  SELECT r.* FROM rooms r
   WHERE parley_readable_rooms.is_admin
      OR ((r.visibility = 'public'
           OR EXISTS (SELECT 1 FROM room_members m
                       WHERE m.room_id = r.id AND m.user_id = parley_readable_rooms.user_id))
          AND NOT EXISTS (SELECT 1 FROM room_bans b
                           WHERE b.room_id = r.id AND b.user_id = parley_readable_rooms.user_id
                             AND parley_in_force(b.until)))
$$;
