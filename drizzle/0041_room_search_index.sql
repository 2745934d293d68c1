-- The search index keyed by room and word (sql/search.sql, drizzle/0040_sql_search.sql)
-- replaces the one on (room_id, search_vector), whose posting list of a word spanned every
-- room. Without fast update, whose pending list every room's probe would read whole. Built
-- in one pass; on a large table it blocks writes to messages while it builds.
DROP INDEX "messages_search_idx";--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "messages" USING gin (room_lexemes("room_id", "search_vector")) WITH (fastupdate=false);