CREATE TABLE "dm_rooms" (
	"dm_low" text NOT NULL,
	"dm_high" text NOT NULL,
	"room_id" bigint NOT NULL,
	CONSTRAINT "dm_rooms_dm_low_dm_high_pk" PRIMARY KEY("dm_low","dm_high"),
	CONSTRAINT "dm_rooms_room_id_unique" UNIQUE("room_id")
);
--> statement-breakpoint
ALTER TABLE "dm_rooms" ADD CONSTRAINT "dm_rooms_room_id_room_shards_room_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."room_shards"("room_id") ON DELETE cascade ON UPDATE no action;