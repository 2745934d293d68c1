CREATE TABLE "rate_buckets" (
	"user_id" text NOT NULL,
	"action" text NOT NULL,
	"tokens" double precision NOT NULL,
	"granted" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "rate_buckets_user_id_action_pk" PRIMARY KEY("user_id","action")
);
--> statement-breakpoint
CREATE INDEX "rate_buckets_at_idx" ON "rate_buckets" USING btree ("at");