CREATE TABLE "parley_settings" (
	"name" text PRIMARY KEY NOT NULL,
	"value" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "message_changes" ADD COLUMN "count" integer;--> statement-breakpoint
UPDATE "message_changes" SET "count" = coalesce(("reactions" ->> "emoji")::int, 0) WHERE "kind" = 'reaction';
--> statement-breakpoint
INSERT INTO "parley_settings" ("name", "value") VALUES ('reactions_per_message', 20), ('reactions_per_user_per_message', 5) ON CONFLICT DO NOTHING;
