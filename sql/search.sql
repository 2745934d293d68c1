-- Parley's search keys. `npm run db:sql` copies them into a migration after each change
-- (test/db/migrations.test.ts fails until it has).
--
-- The search index (messages_search_idx) is a GIN index over room_lexemes(room_id,
-- search_vector): each word of a message becomes '<room id>.<word>', so every (room, word)
-- has a posting list of its own, holding exactly that room's messages with that word. A
-- search probes one readable room at a time with room_query(room, q), the same words keyed
-- the same way, so what it reads is that room's matches and nothing of any other room: a
-- word common elsewhere costs it nothing, and a prefix ('123.deplo':*) only expands to the
-- words of room 123. The '.' ends the room id, which is all digits, so room 12's keys
-- ('12.…') never start like room 123's ('123.…').
--
-- Both rewrite the canonical text, in which every lexeme is single-quoted with its quotes
-- (and backslashes) doubled, so the pattern finds each lexeme whole and nothing else; the
-- positions, weights, operators and prefixes (:*) after it are kept. Positions matter: the
-- index leaves a phrase to be rechecked on the row, and a vector without positions never
-- matches a phrase. The search still checks `search_vector @@ q` too, the truth.
CREATE OR REPLACE FUNCTION room_lexemes(room_id bigint, words tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT regexp_replace(words::text, '''((?:[^'']|'''')*)''', '''' || room_id || '.\1''', 'g')::tsvector
$$;
--> statement-breakpoint

-- `q` with each lexeme keyed by `room_id` as room_lexemes keys a message's words.
CREATE OR REPLACE FUNCTION room_query(room_id bigint, q tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT regexp_replace(q::text, '''((?:[^'']|'''')*)''', '''' || room_id || '.\1''', 'g')::tsquery
$$;
