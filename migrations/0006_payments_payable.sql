-- A payment belongs to a payable (type, id) instead of a trip: every existing payment is a trip's.
-- SQLite cannot relax NOT NULL or drop a foreign-key column in place, so the table is rebuilt. D1
-- ignores PRAGMA foreign_keys; deferring the checks lets payment_events and refunds point at the
-- rebuilt table by the end of the migration's transaction.
PRAGMA defer_foreign_keys = on;--> statement-breakpoint
CREATE TABLE `__new_payments` (
	`id` text PRIMARY KEY NOT NULL,
	`payable_type` text NOT NULL,
	`payable_id` text NOT NULL,
	`customer_id` text NOT NULL,
	`method` text NOT NULL,
	`gateway` text NOT NULL,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`status` text NOT NULL,
	`refunded_amount` integer DEFAULT 0 NOT NULL,
	`gateway_ref` text,
	`phone` text,
	`failure_reason` text,
	`idempotency_key` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`customer_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_payments`("id", "payable_type", "payable_id", "customer_id", "method", "gateway", "amount", "currency", "status", "refunded_amount", "gateway_ref", "phone", "failure_reason", "idempotency_key", "created_at", "updated_at") SELECT "id", 'trip', "trip_id", "customer_id", "method", "gateway", "amount", "currency", "status", "refunded_amount", "gateway_ref", "phone", "failure_reason", "idempotency_key", "created_at", "updated_at" FROM `payments`;--> statement-breakpoint
DROP TABLE `payments`;--> statement-breakpoint
ALTER TABLE `__new_payments` RENAME TO `payments`;--> statement-breakpoint
PRAGMA defer_foreign_keys = off;--> statement-breakpoint
CREATE INDEX `payments_payable_idx` ON `payments` (`payable_type`,`payable_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `payments_customer_created_idx` ON `payments` (`customer_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `payments_gateway_ref_unique` ON `payments` (`gateway`,`gateway_ref`);--> statement-breakpoint
CREATE UNIQUE INDEX `payments_customer_idempotency_unique` ON `payments` (`customer_id`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `payments_status_created_idx` ON `payments` (`status`,`created_at`);