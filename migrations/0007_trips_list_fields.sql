-- Trip lists show the same quote (with its breakdown) and haulage progress as the trip itself.
ALTER TABLE `trips` ADD `breakdown_base` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `trips` ADD `breakdown_distance` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `trips` ADD `breakdown_time` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `trips` ADD `surge_multiplier` real DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `trips` ADD `arrived_at_destination` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Backfill from history: a trip's "created" event (seq 1) carries its whole quote, breakdown included.
UPDATE `trips` SET
  `breakdown_base` = COALESCE((SELECT json_extract(e.`data`, '$.quote.breakdown.base') FROM `trip_events` e WHERE e.`trip_id` = `trips`.`id` AND e.`type` = 'created'), `fare_amount`),
  `breakdown_distance` = COALESCE((SELECT json_extract(e.`data`, '$.quote.breakdown.distance') FROM `trip_events` e WHERE e.`trip_id` = `trips`.`id` AND e.`type` = 'created'), 0),
  `breakdown_time` = COALESCE((SELECT json_extract(e.`data`, '$.quote.breakdown.time') FROM `trip_events` e WHERE e.`trip_id` = `trips`.`id` AND e.`type` = 'created'), 0),
  `surge_multiplier` = COALESCE((SELECT json_extract(e.`data`, '$.quote.breakdown.surge_multiplier') FROM `trip_events` e WHERE e.`trip_id` = `trips`.`id` AND e.`type` = 'created'), CASE WHEN `surge` THEN 1.5 ELSE 1 END);--> statement-breakpoint
UPDATE `trips` SET `arrived_at_destination` = 1
  WHERE EXISTS (SELECT 1 FROM `trip_events` e WHERE e.`trip_id` = `trips`.`id` AND e.`type` = 'arrived_at_destination');
