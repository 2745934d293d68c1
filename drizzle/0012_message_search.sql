-- Full-text search over message bodies. The vector is a stored generated column, so rows
-- inserted or edited with psql are searchable like any other and a tombstone (body '')
-- holds no words. The index leads with room_id (btree_gin lets a btree-like column sit in a
-- GIN index): a search probes only the rooms its caller may read. The configuration is
-- 'simple'; SEARCH_CONFIG must name the same one, and sql/search-config.sql rebuilds both
-- for another (see the README).
CREATE EXTENSION IF NOT EXISTS btree_gin;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "search_vector" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body)) STORED;--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "messages" USING gin ("room_id","search_vector");
