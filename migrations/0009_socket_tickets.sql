CREATE TABLE `used_socket_tickets` (
	`jti` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `used_socket_tickets_expires_idx` ON `used_socket_tickets` (`expires_at`);