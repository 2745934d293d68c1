ALTER TABLE "message_changes" ADD COLUMN "message_cursor" bigint;--> statement-breakpoint
ALTER TABLE "message_changes" ADD COLUMN "tombstone" jsonb;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "pruned_cursor" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "user_feeds" ADD COLUMN "pruned_cursor" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "message_changes_created_idx" ON "message_changes" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "message_changes_message_cursor_idx" ON "message_changes" USING btree ("room_id","message_cursor") WHERE message_cursor is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "message_changes_tombstone_idx" ON "message_changes" USING btree ("room_id","seq") WHERE tombstone is not null;--> statement-breakpoint
CREATE INDEX "message_mentions_message_id_idx" ON "message_mentions" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "user_events_created_idx" ON "user_events" USING btree ("created_at");