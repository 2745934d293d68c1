-- Every room with its message count and latest activity, most recently active first.
--   psql "$DATABASE_URL" -f sql/rooms.sql
SELECT r.id, r.name, r.last_seq, count(m.id) AS messages, max(m.created_at) AS last_message_at
FROM rooms r LEFT JOIN messages m ON m.room_id = r.id
GROUP BY r.id
ORDER BY last_message_at DESC NULLS LAST, r.id;
