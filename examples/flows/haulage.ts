import { unwrap } from "@fixoncall/client";
import { approveDocuments, type FlowContext, freshIdentity, near, PASSWORD, verifyPhone } from "./common";

const JOHANNESBURG = { lat: -26.2041, lng: 28.0473 };

/**
 * Toota's flow over the `toota.v1` subprotocol: a shipper and a bakkie driver sign up, the driver
 * goes online, the shipper asks for the nearest drivers, `create_trip`, `confirm_driver`; the driver
 * accepts in Toota's words, then reports "on the way", "arrived at pickup", the cash, "picked up"
 * (with the shipper's PIN), "arrived at destination" and "completed". Everything goes through
 * @fixoncall/client; the shipper sees Toota's frame shapes.
 */
export async function haulage({ newClient, admin, log, observe }: FlowContext) {
  const shipper = newClient();
  const driver = newClient();
  const s = freshIdentity("shipper");
  await shipper.register({ role: "customer", email: s.email, password: PASSWORD, name: "Thandi Shipper", phone: s.phone });
  const d = freshIdentity("driver");
  const signedUp = await driver.register({
    role: "provider",
    email: d.email,
    password: PASSWORD,
    name: "Sipho Driver",
    phone: d.phone,
    service_types: ["haulage"],
    vehicle_type: "bakkie",
    service_radius_km: 30,
  });
  // Haulage is planned work, so both sides prove their phones first (codes read from the local outbox).
  await verifyPhone(shipper, admin, s.phone);
  await verifyPhone(driver, admin, d.phone);
  const uploaded = await approveDocuments(driver, admin);
  log(`registered shipper ${s.email} and bakkie driver ${d.email}; phones verified, ${uploaded} documents approved`);

  const pickup = near(JOHANNESBURG, Math.random() * 2);
  const dropoff = near(pickup, 8);
  const presence = driver.presence(pickup);
  if (observe) presence.on((f) => observe("presence", f));
  await presence.ready();
  await presence.next("welcome");
  presence.send({ latitude: pickup.lat, longitude: pickup.lng }); // Toota's bare position
  log("driver online");

  const request = shipper.tootaRequest();
  if (observe) request.on((f) => observe("toota", f));
  await request.ready();
  request.send({ user_latitude: pickup.lat, user_longitude: pickup.lng });
  const nearest = await request.next("nearest_drivers");
  log(`nearest drivers: ${"nearest_drivers" in nearest ? nearest.nearest_drivers.length : 0}`);

  request.send({
    action: "create_trip",
    vehicle_type: "bakkie",
    pickup: "Braamfontein",
    destination: "Sandton",
    pickup_lat: pickup.lat,
    pickup_lon: pickup.lng,
    dest_lat: dropoff.lat,
    dest_lon: dropoff.lng,
    load_description: "a fridge and two boxes",
    payment_method: "cash",
  });
  const created = await request.next((f) => "message" in f && f.message === "Trip created successfully - select a driver");
  if (!("estimated_fare" in created)) throw new Error("not a create_trip reply");
  const tripId = created.trip_id;
  log(
    `trip ${tripId} created: ${created.estimated_fare} ${created.currency}, ${created.distance_km} km, ${created.available_drivers.length} drivers`,
  );
  if (!created.available_drivers.some((c) => c.provider_id === signedUp.user.id)) throw new Error("our driver is not listed");

  request.send({ action: "confirm_driver", trip_id: tripId, driver_id: signedUp.user.id });
  await request.next((f) => "message" in f && f.message === "Awaiting driver response");
  log("awaiting driver response");

  const offer = await presence.next((f) => "trip_details" in f && f.trip_details.trip_id === tripId, 15_000);
  log(`driver got new_trip_request (${"trip_details" in offer ? offer.trip_details.estimated_fare : "?"})`);
  // Toota's answer; the driver's app gets Toota's verdict back, the shipper a trip_status_update.
  presence.send({ trip_id: tripId, driver_response_status: "accepted" });
  const accepted = await request.next("trip_status_update");
  log(`shipper got trip_status_update: ${"status" in accepted ? accepted.status : "?"}`);

  // The handover PIN is the shipper's: their view of the trip shows it, the driver's does not.
  const view = await unwrap(shipper.api.GET("/api/trips/{id}", { params: { path: { id: tripId } } }));
  const job = driver.tootaTrip(tripId);
  if (observe) job.on((f) => observe("toota", f));
  await job.ready();
  const heard = async (match: (f: object) => boolean, what: string) => {
    await request.next(match);
    log(`shipper saw ${what}`);
  };
  // Toota's frames carry Toota's status words in `trip_status` and our event name in `event`.
  const event = (name: string) => (f: object) => "event" in f && f.event === name;

  job.send({ trip_status: "on the way" });
  await heard(event("en_route"), "on the way");
  job.send({ trip_status: "arrived at pickup" });
  await heard(event("arrived"), "arrived at pickup");
  await heard((f) => "payment_status" in f && f.payment_status === "arrived at pickup", "the cash rule");
  job.send({ type: "cash_collected" });
  await heard(event("cash_collected"), "cash collected");
  job.send({ trip_status: "picked up", pin: view.handover_pin });
  await heard(event("in_progress"), "picked up");
  job.send({ trip_status: "arrived at destination" });
  await heard(event("arrived_at_destination"), "arrived at destination");
  job.send({ trip_status: "completed" });
  await heard(event("completed"), "completed");

  const final = await unwrap(shipper.api.GET("/api/trips/{id}/status", { params: { path: { id: tripId } } }));
  log(`GET /api/trips/{id}/status: ${JSON.stringify(final)}; shipper's socket last saw seq ${request.lastSeq}`);
  for (const socket of [presence, request, job]) socket.close();
  return { tripId, final, lastSeq: request.lastSeq };
}
