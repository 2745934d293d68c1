CREATE TABLE "message_mentions" (
	"user_id" text NOT NULL,
	"message_id" bigint NOT NULL,
	"room_id" bigint NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "message_mentions_user_id_message_id_pk" PRIMARY KEY("user_id","message_id")
);
--> statement-breakpoint
CREATE TABLE "user_events" (
	"user_id" text NOT NULL,
	"cursor" bigint NOT NULL,
	"kind" text NOT NULL,
	"room_id" bigint NOT NULL,
	"seq" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_events_user_id_cursor_pk" PRIMARY KEY("user_id","cursor"),
	CONSTRAINT "user_events_kind" CHECK ("user_events"."kind" in ('mention', 'dm', 'added', 'removed'))
);
--> statement-breakpoint
CREATE TABLE "user_feeds" (
	"user_id" text PRIMARY KEY NOT NULL,
	"last_cursor" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "mentions" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "room_members" ADD COLUMN "user_name" text;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "kind" text DEFAULT 'room' NOT NULL;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "dm_low" text;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "dm_high" text;--> statement-breakpoint
ALTER TABLE "message_mentions" ADD CONSTRAINT "message_mentions_room_id_seq_messages_room_id_seq_fk" FOREIGN KEY ("room_id","seq") REFERENCES "public"."messages"("room_id","seq") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "message_mentions_user_room_idx" ON "message_mentions" USING btree ("user_id","room_id","seq");--> statement-breakpoint
CREATE INDEX "message_mentions_message_idx" ON "message_mentions" USING btree ("room_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "rooms_dm_pair_unique" ON "rooms" USING btree ("dm_low","dm_high") WHERE kind = 'dm';--> statement-breakpoint
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_dm_pair" CHECK (case when "rooms"."kind" = 'dm'
        then "rooms"."visibility" = 'private' and "rooms"."dm_low" < "rooms"."dm_high"
        else "rooms"."kind" = 'room' and "rooms"."dm_low" is null and "rooms"."dm_high" is null end);