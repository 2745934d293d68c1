CREATE TABLE "message_changes" (
	"room_id" bigint NOT NULL,
	"cursor" bigint NOT NULL,
	"seq" bigint NOT NULL,
	"kind" text NOT NULL,
	"user_id" text,
	"emoji" text,
	"action" text,
	"reactions" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "message_changes_room_id_cursor_pk" PRIMARY KEY("room_id","cursor"),
	CONSTRAINT "message_changes_kind" CHECK ("message_changes"."kind" in ('edit', 'delete', 'reaction'))
);
--> statement-breakpoint
CREATE TABLE "message_reactions" (
	"room_id" bigint NOT NULL,
	"seq" bigint NOT NULL,
	"user_id" text NOT NULL,
	"emoji" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "message_reactions_room_id_seq_emoji_user_id_pk" PRIMARY KEY("room_id","seq","emoji","user_id"),
	CONSTRAINT "message_reactions_emoji_length" CHECK (char_length("message_reactions"."emoji") between 1 and 64)
);
--> statement-breakpoint
-- Rooms that have only seen inserts: each message's change cursor is its seq.
ALTER TABLE "messages" ADD COLUMN "created_cursor" bigint;--> statement-breakpoint
UPDATE "messages" SET "created_cursor" = "seq";--> statement-breakpoint
ALTER TABLE "messages" ALTER COLUMN "created_cursor" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "edited_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reactions" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reply_to" bigint;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "reply_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "last_cursor" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE "rooms" SET "last_cursor" = "last_seq";--> statement-breakpoint
ALTER TABLE "message_changes" ADD CONSTRAINT "message_changes_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_room_id_seq_messages_room_id_seq_fk" FOREIGN KEY ("room_id","seq") REFERENCES "public"."messages"("room_id","seq") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "message_changes_user_idx" ON "message_changes" USING btree ("user_id","created_at") WHERE user_id is not null;--> statement-breakpoint
CREATE INDEX "messages_replies_idx" ON "messages" USING btree ("room_id","reply_to","seq") WHERE reply_to is not null;--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_room_cursor_unique" UNIQUE("room_id","created_cursor");