CREATE TABLE `document_requirements` (
	`country` text NOT NULL,
	`service_type` text NOT NULL,
	`kind` text NOT NULL,
	`expires` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`country`, `service_type`, `kind`)
);
--> statement-breakpoint
CREATE TABLE `documents` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`kind` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`object_key` text NOT NULL,
	`content_type` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`filename` text,
	`number` text,
	`expires_at` integer,
	`details` text,
	`reviewed_by` text,
	`reviewed_at` integer,
	`review_reason` text,
	`warned_30_at` integer,
	`warned_7_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `documents_object_key_unique` ON `documents` (`object_key`);--> statement-breakpoint
CREATE INDEX `documents_status_created_idx` ON `documents` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `documents_owner_kind_idx` ON `documents` (`owner_id`,`kind`,`status`);--> statement-breakpoint
CREATE INDEX `documents_expires_idx` ON `documents` (`status`,`expires_at`);--> statement-breakpoint
CREATE TABLE `verification_codes` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`purpose` text NOT NULL,
	`channel` text NOT NULL,
	`recipient` text NOT NULL,
	`code_hash` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `verification_codes_user_purpose_created_idx` ON `verification_codes` (`user_id`,`purpose`,`created_at`);--> statement-breakpoint
ALTER TABLE `outbound_messages` ADD `sensitive` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `outbound_messages_recipient_created_idx` ON `outbound_messages` (`recipient`,`created_at`);--> statement-breakpoint
ALTER TABLE `provider_profiles` ADD `equipment` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `provider_profiles` ADD `languages` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `provider_profiles` ADD `certifications` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `provider_profiles` ADD `is_available` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `email_verified_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `phone_verified_at` integer;--> statement-breakpoint
-- What each provider needs, by country and service type. Data, not code: an operator changes it with SQL
-- (or a later admin route) and every provider's verification follows. A professional permit is South
-- Africa's PrDP for goods vehicles and tow trucks; fuel carriers need a dangerous-goods permit in both
-- countries (PrDP-D in ZA, an EPRA petroleum transport licence in KE).
INSERT INTO `document_requirements` (`country`, `service_type`, `kind`, `expires`) VALUES
('KE', 'breakdown', 'id_document', 0),
('KE', 'breakdown', 'driving_licence', 1),
('KE', 'breakdown', 'profile_photo', 0),
('KE', 'breakdown', 'good_conduct_certificate', 0),
('KE', 'towing', 'id_document', 0),
('KE', 'towing', 'driving_licence', 1),
('KE', 'towing', 'profile_photo', 0),
('KE', 'towing', 'good_conduct_certificate', 0),
('KE', 'towing', 'vehicle_registration', 0),
('KE', 'towing', 'insurance_certificate', 1),
('KE', 'towing', 'vehicle_photo', 0),
('KE', 'fuel_delivery', 'id_document', 0),
('KE', 'fuel_delivery', 'driving_licence', 1),
('KE', 'fuel_delivery', 'profile_photo', 0),
('KE', 'fuel_delivery', 'good_conduct_certificate', 0),
('KE', 'fuel_delivery', 'vehicle_registration', 0),
('KE', 'fuel_delivery', 'insurance_certificate', 1),
('KE', 'fuel_delivery', 'vehicle_photo', 0),
('KE', 'fuel_delivery', 'professional_permit', 1),
('KE', 'battery_jump', 'id_document', 0),
('KE', 'battery_jump', 'driving_licence', 1),
('KE', 'battery_jump', 'profile_photo', 0),
('KE', 'battery_jump', 'good_conduct_certificate', 0),
('KE', 'tyre_change', 'id_document', 0),
('KE', 'tyre_change', 'driving_licence', 1),
('KE', 'tyre_change', 'profile_photo', 0),
('KE', 'tyre_change', 'good_conduct_certificate', 0),
('KE', 'lockout', 'id_document', 0),
('KE', 'lockout', 'driving_licence', 1),
('KE', 'lockout', 'profile_photo', 0),
('KE', 'lockout', 'good_conduct_certificate', 0),
('KE', 'mechanic_dispatch', 'id_document', 0),
('KE', 'mechanic_dispatch', 'driving_licence', 1),
('KE', 'mechanic_dispatch', 'profile_photo', 0),
('KE', 'mechanic_dispatch', 'good_conduct_certificate', 0),
('KE', 'haulage', 'id_document', 0),
('KE', 'haulage', 'driving_licence', 1),
('KE', 'haulage', 'profile_photo', 0),
('KE', 'haulage', 'good_conduct_certificate', 0),
('KE', 'haulage', 'vehicle_registration', 0),
('KE', 'haulage', 'insurance_certificate', 1),
('KE', 'haulage', 'vehicle_photo', 0),
('ZA', 'breakdown', 'id_document', 0),
('ZA', 'breakdown', 'driving_licence', 1),
('ZA', 'breakdown', 'profile_photo', 0),
('ZA', 'breakdown', 'good_conduct_certificate', 0),
('ZA', 'towing', 'id_document', 0),
('ZA', 'towing', 'driving_licence', 1),
('ZA', 'towing', 'profile_photo', 0),
('ZA', 'towing', 'good_conduct_certificate', 0),
('ZA', 'towing', 'vehicle_registration', 0),
('ZA', 'towing', 'insurance_certificate', 1),
('ZA', 'towing', 'vehicle_photo', 0),
('ZA', 'towing', 'professional_permit', 1),
('ZA', 'fuel_delivery', 'id_document', 0),
('ZA', 'fuel_delivery', 'driving_licence', 1),
('ZA', 'fuel_delivery', 'profile_photo', 0),
('ZA', 'fuel_delivery', 'good_conduct_certificate', 0),
('ZA', 'fuel_delivery', 'vehicle_registration', 0),
('ZA', 'fuel_delivery', 'insurance_certificate', 1),
('ZA', 'fuel_delivery', 'vehicle_photo', 0),
('ZA', 'fuel_delivery', 'professional_permit', 1),
('ZA', 'battery_jump', 'id_document', 0),
('ZA', 'battery_jump', 'driving_licence', 1),
('ZA', 'battery_jump', 'profile_photo', 0),
('ZA', 'battery_jump', 'good_conduct_certificate', 0),
('ZA', 'tyre_change', 'id_document', 0),
('ZA', 'tyre_change', 'driving_licence', 1),
('ZA', 'tyre_change', 'profile_photo', 0),
('ZA', 'tyre_change', 'good_conduct_certificate', 0),
('ZA', 'lockout', 'id_document', 0),
('ZA', 'lockout', 'driving_licence', 1),
('ZA', 'lockout', 'profile_photo', 0),
('ZA', 'lockout', 'good_conduct_certificate', 0),
('ZA', 'mechanic_dispatch', 'id_document', 0),
('ZA', 'mechanic_dispatch', 'driving_licence', 1),
('ZA', 'mechanic_dispatch', 'profile_photo', 0),
('ZA', 'mechanic_dispatch', 'good_conduct_certificate', 0),
('ZA', 'haulage', 'id_document', 0),
('ZA', 'haulage', 'driving_licence', 1),
('ZA', 'haulage', 'profile_photo', 0),
('ZA', 'haulage', 'good_conduct_certificate', 0),
('ZA', 'haulage', 'vehicle_registration', 0),
('ZA', 'haulage', 'insurance_certificate', 1),
('ZA', 'haulage', 'vehicle_photo', 0),
('ZA', 'haulage', 'professional_permit', 1);
