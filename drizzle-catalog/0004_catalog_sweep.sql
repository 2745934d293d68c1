DROP INDEX "room_shards_shard_idx";--> statement-breakpoint
CREATE INDEX "room_shards_shard_idx" ON "room_shards" USING btree ("shard_id","room_id");