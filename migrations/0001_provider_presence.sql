CREATE TABLE `provider_presence` (
	`provider_id` text PRIMARY KEY NOT NULL,
	`home_cell` text NOT NULL,
	`connected_at` integer NOT NULL,
	FOREIGN KEY (`provider_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
