CREATE TABLE `socket_rooms` (
	`user_id` text NOT NULL,
	`trip_id` text NOT NULL,
	`opened_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `trip_id`)
);
