CREATE TABLE "public_room_names" (
	"name" text PRIMARY KEY NOT NULL,
	"room_id" bigint NOT NULL,
	CONSTRAINT "public_room_names_room_id_unique" UNIQUE("room_id")
);
--> statement-breakpoint
ALTER TABLE "public_room_names" ADD CONSTRAINT "public_room_names_room_id_room_shards_room_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."room_shards"("room_id") ON DELETE cascade ON UPDATE no action;