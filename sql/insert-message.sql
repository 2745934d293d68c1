-- Post a message by hand; it reaches every open stream of the room like one sent over HTTP.
--   psql "$DATABASE_URL" -v room=1 -v user=ops -v name='Ops' -v body='hello from psql' -f sql/insert-message.sql
-- seq and created_at are filled in by the database.
INSERT INTO messages (room_id, user_id, user_name, body)
VALUES (:'room', :'user', :'name', :'body')
RETURNING id, room_id, seq, user_id, user_name, body, created_at;
