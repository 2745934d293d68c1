CREATE TABLE "room_members" (
	"room_id" bigint NOT NULL,
	"user_id" text NOT NULL,
	"role" text DEFAULT 'member' NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "room_members_room_id_user_id_pk" PRIMARY KEY("room_id","user_id"),
	CONSTRAINT "room_members_role" CHECK ("room_members"."role" in ('owner', 'member'))
);
--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "visibility" text DEFAULT 'public' NOT NULL;--> statement-breakpoint
ALTER TABLE "room_members" ADD CONSTRAINT "room_members_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "room_members_user_idx" ON "room_members" USING btree ("user_id");--> statement-breakpoint
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_visibility" CHECK ("rooms"."visibility" in ('public', 'private'));--> statement-breakpoint
INSERT INTO "room_members" ("room_id", "user_id", "role", "added_at")
SELECT "id", "created_by", 'owner', "created_at" FROM "rooms"
ON CONFLICT DO NOTHING;
