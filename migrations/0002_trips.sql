CREATE TABLE `provider_active_trips` (
	`provider_id` text PRIMARY KEY NOT NULL,
	`trip_id` text NOT NULL,
	`claimed_at` integer NOT NULL,
	FOREIGN KEY (`provider_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `trip_events` (
	`trip_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`status` text NOT NULL,
	`actor_id` text,
	`actor_role` text,
	`data` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`trip_id`) REFERENCES `trips`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `trip_events_trip_seq_unique` ON `trip_events` (`trip_id`,`seq`);--> statement-breakpoint
CREATE TABLE `trips` (
	`id` text PRIMARY KEY NOT NULL,
	`customer_id` text NOT NULL,
	`provider_id` text,
	`kind` text NOT NULL,
	`service_type` text NOT NULL,
	`vehicle_type` text,
	`status` text NOT NULL,
	`dispatch_mode` text NOT NULL,
	`country` text NOT NULL,
	`pickup_lat` real NOT NULL,
	`pickup_lng` real NOT NULL,
	`pickup_address` text,
	`dest_lat` real,
	`dest_lng` real,
	`dest_address` text,
	`description` text,
	`load_description` text,
	`currency` text NOT NULL,
	`fare_amount` integer NOT NULL,
	`distance_km` real NOT NULL,
	`duration_minutes` integer NOT NULL,
	`surge` integer NOT NULL,
	`payment_method` text NOT NULL,
	`payment_status` text NOT NULL,
	`cash_collected` integer DEFAULT false NOT NULL,
	`cancel_reason` text,
	`cancelled_by` text,
	`idempotency_key` text,
	`request_hash` text,
	`seq` integer DEFAULT 0 NOT NULL,
	`accepted_at` integer,
	`completed_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`customer_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`provider_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `trips_customer_idempotency_unique` ON `trips` (`customer_id`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `trips_customer_created_idx` ON `trips` (`customer_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `trips_provider_created_idx` ON `trips` (`provider_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `trips_status_created_idx` ON `trips` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `trips_created_idx` ON `trips` (`created_at`);