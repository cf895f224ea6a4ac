DROP INDEX `notifications_user_unread_idx`;--> statement-breakpoint
CREATE INDEX `notifications_user_read_created_idx` ON `notifications` (`user_id`,`read_at`,`created_at`);--> statement-breakpoint
DROP INDEX `trips_created_idx`;--> statement-breakpoint
DROP INDEX `trips_status_completed_idx`;--> statement-breakpoint
CREATE INDEX `trips_created_accepted_idx` ON `trips` (`created_at`,`accepted_at`);--> statement-breakpoint
CREATE INDEX `trips_status_completed_revenue_idx` ON `trips` (`status`,`completed_at`,`currency`,`fare_amount`);--> statement-breakpoint
-- Refresh the planner statistics now that the indexes changed (D1 advises it after creating indexes).
PRAGMA optimize;
