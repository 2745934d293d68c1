ALTER TABLE "rooms" ADD COLUMN "message_count" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "last_message_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "rooms_activity_idx" ON "rooms" USING btree ((coalesce("last_message_at", "created_at")) desc,"id" desc);--> statement-breakpoint
UPDATE "rooms" r SET "message_count" = c.n, "last_message_at" = c.last
FROM (
  SELECT "room_id", count(*) AS n, (array_agg("created_at" ORDER BY "seq" DESC))[1] AS last
  FROM "messages" GROUP BY "room_id"
) c
WHERE c."room_id" = r."id";--> statement-breakpoint
-- Posting now moves the author's read mark to the message (sql/messages.sql); bring the
-- marks of those who posted after reading up to their last message.
INSERT INTO "room_reads" ("room_id", "user_id", "last_read_seq")
SELECT "room_id", "user_id", max("seq") FROM "messages" GROUP BY "room_id", "user_id"
ON CONFLICT ("room_id", "user_id") DO UPDATE SET "last_read_seq" = excluded."last_read_seq"
WHERE "room_reads"."last_read_seq" < excluded."last_read_seq";
