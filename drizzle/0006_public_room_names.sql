ALTER TABLE "rooms" DROP CONSTRAINT "rooms_name_unique";--> statement-breakpoint
CREATE UNIQUE INDEX "rooms_public_name_unique" ON "rooms" USING btree ("name") WHERE visibility = 'public';