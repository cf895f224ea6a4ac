-- Rows that break the registration rules (written before registration validated every shape). This
-- migration only REPORTS them: nothing is rewritten, because which of two "same" accounts is the real
-- one, or what a provider's radius should have been, needs a person. Admins read the view through
-- GET /api/admin/data-quality. It is a view, not a table filled once, so a fixed row drops out at once.
-- The vocabularies below are copies of src/domain/vocabulary.ts; test/admin/data-quality.test.ts fails
-- if they drift (a later migration must then recreate the view). D1 allows at most five terms in a
-- compound SELECT, so each table is one term that pairs its rows with its rule names.
CREATE INDEX `users_email_lower_idx` ON `users` (lower(`email`));--> statement-breakpoint
CREATE VIEW `data_quality_issues` AS
WITH
  phones AS (
    SELECT id,
      CASE
        WHEN p GLOB '+*' THEN p
        WHEN p GLOB '254*' OR p GLOB '27*' THEN '+' || p
        WHEN p GLOB '0*' THEN '+254' || substr(p, 2)
        ELSE p
      END AS normalised
    FROM (SELECT id, replace(replace(replace(replace(phone, ' ', ''), '-', ''), '(', ''), ')', '') AS p FROM users)
  ),
  same_phone AS (SELECT id FROM phones WHERE normalised IN (SELECT normalised FROM phones GROUP BY normalised HAVING count(*) > 1)),
  same_email AS (SELECT lower(email) AS e FROM users GROUP BY lower(email) HAVING count(*) > 1)
SELECT r.value AS rule, 'users' AS table_name, u.id AS row_id, u.id AS user_id,
  CASE r.value
    WHEN 'role_unknown' THEN u.role
    WHEN 'profile_missing' THEN u.role
    WHEN 'country_unknown' THEN u.country
    WHEN 'name_empty_or_too_long' THEN u.name
    WHEN 'phone_not_e164_mobile' THEN u.phone
    WHEN 'phone_duplicate_after_normalising' THEN u.phone
    ELSE u.email
  END AS value
FROM users u
JOIN json_each('["role_unknown","email_not_lowercase","email_invalid","email_duplicate_ignoring_case","phone_not_e164_mobile","phone_duplicate_after_normalising","name_empty_or_too_long","country_unknown","profile_missing"]') r
  ON CASE r.value
    WHEN 'role_unknown' THEN u.role NOT IN ('customer', 'provider', 'vendor', 'partner', 'admin')
    WHEN 'email_not_lowercase' THEN u.email <> lower(u.email)
    WHEN 'email_invalid' THEN u.email NOT LIKE '%_@_%._%' OR u.email GLOB '*[ ]*' OR length(u.email) > 254
      OR instr(substr(u.email, instr(u.email, '@') + 1), '@') > 0
    WHEN 'email_duplicate_ignoring_case' THEN lower(u.email) IN (SELECT e FROM same_email)
    WHEN 'phone_not_e164_mobile' THEN NOT (u.phone GLOB '+254[17][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
      OR u.phone GLOB '+27[678][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
    WHEN 'phone_duplicate_after_normalising' THEN u.id IN (SELECT id FROM same_phone)
    WHEN 'name_empty_or_too_long' THEN trim(u.name) = '' OR length(u.name) > 100
    WHEN 'country_unknown' THEN u.country NOT IN ('KE', 'ZA')
    WHEN 'profile_missing' THEN
      (u.role = 'provider' AND NOT EXISTS (SELECT 1 FROM provider_profiles p WHERE p.user_id = u.id))
      OR (u.role = 'partner' AND NOT EXISTS (SELECT 1 FROM partner_profiles p WHERE p.user_id = u.id))
      OR (u.role = 'vendor' AND NOT EXISTS (SELECT 1 FROM vendor_profiles p WHERE p.user_id = u.id))
  END
UNION ALL
SELECT r.value, 'provider_profiles', p.user_id, p.user_id,
  CASE r.value
    WHEN 'service_types_invalid' THEN p.service_types
    WHEN 'service_radius_out_of_range' THEN CAST(p.service_radius_km AS TEXT)
    ELSE p.vehicle_type
  END
FROM provider_profiles p
JOIN json_each('["service_types_invalid","service_radius_out_of_range","vehicle_type_unknown"]') r
  ON CASE r.value
    WHEN 'service_types_invalid' THEN NOT json_valid(p.service_types) OR json_type(p.service_types) <> 'array'
      OR json_array_length(p.service_types) = 0
      OR EXISTS (
        SELECT 1 FROM json_each(CASE WHEN json_valid(p.service_types) THEN p.service_types ELSE '[]' END) j
         WHERE j.value NOT IN ('breakdown', 'towing', 'fuel_delivery', 'battery_jump', 'tyre_change', 'lockout',
                               'mechanic_dispatch', 'haulage'))
    WHEN 'service_radius_out_of_range' THEN p.service_radius_km < 1 OR p.service_radius_km > 200
    WHEN 'vehicle_type_unknown' THEN p.vehicle_type IS NOT NULL AND p.vehicle_type NOT IN
      ('motorbike', 'bakkie', 'truck_1t', 'truck_1_5t', 'truck_2t', 'truck_4t', 'truck_8t', 'tow_truck')
  END
UNION ALL
SELECT 'partner_fields_invalid', 'partner_profiles', user_id, user_id, company_name FROM partner_profiles
  WHERE trim(company_name) = '' OR partner_type NOT IN ('insurer', 'fleet_owner', 'corporate', 'garage', 'other')
UNION ALL
SELECT 'vehicle_year_out_of_range', 'customer_vehicles', id, user_id, CAST(year AS TEXT) FROM customer_vehicles
  WHERE year < 1950 OR year > CAST(strftime('%Y', 'now') AS INTEGER) + 1;
