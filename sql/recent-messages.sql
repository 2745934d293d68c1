-- The latest messages of a room, oldest first.
--   psql "$DATABASE_URL" -v room=1 -v limit=20 -f sql/recent-messages.sql
SELECT seq, user_name, created_at, left(body, 80) AS body
FROM (
  SELECT * FROM messages WHERE room_id = :'room' ORDER BY seq DESC LIMIT :limit
) latest
ORDER BY seq;
