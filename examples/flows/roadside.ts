import { unwrap } from "@fixoncall/client";
import { approveDocuments, type FlowContext, freshIdentity, near, PASSWORD, verifyPhone } from "./common";

const NAIROBI = { lat: -1.2864, lng: 36.8172 };

/**
 * Fix On Call's flow: a motorist and a mechanic sign up (and sign in), the mechanic verifies their phone and goes online on
 * the presence socket, the motorist asks for a breakdown service, the mechanic accepts the offer and
 * moves the job en_route → arrived → in_progress (with the motorist's handover PIN) → completed,
 * and each rates the other. Everything goes through @fixoncall/client.
 */
export async function roadside({ newClient, admin, log, observe }: FlowContext) {
  const motorist = newClient();
  const mechanic = newClient();
  const m = freshIdentity("motorist");
  await motorist.register({ role: "customer", email: m.email, password: PASSWORD, name: "Amina Motorist", phone: m.phone });
  await motorist.login(m.email, PASSWORD);
  const k = freshIdentity("mechanic");
  await mechanic.register({
    role: "provider",
    email: k.email,
    password: PASSWORD,
    name: "Otieno Mechanic",
    phone: k.phone,
    service_types: ["breakdown", "mechanic_dispatch"],
    service_radius_km: 20,
  });
  log(`registered motorist ${m.email} and mechanic ${k.email}`);
  await verifyPhone(mechanic, admin, k.phone);
  const uploaded = await approveDocuments(mechanic, admin);
  log(`the mechanic verified their phone (code from the outbox) and uploaded ${uploaded} documents; the admin approved them`);

  const spot = near(NAIROBI, Math.random() * 2);
  const presence = mechanic.presence(spot);
  if (observe) presence.on((f) => observe("presence", f));
  await presence.ready();
  const welcome = await presence.next("welcome");
  log(`mechanic online in cell ${"cell" in welcome ? welcome.cell : "?"}`);
  presence.send({ type: "position", latitude: spot.lat, longitude: spot.lng, heading: 90 });

  const created = await unwrap(
    motorist.api.POST("/api/trips", {
      body: {
        service_type: "breakdown",
        pickup: { latitude: spot.lat, longitude: spot.lng, address: "Kenyatta Avenue" },
        description: "Car won't start",
        payment_method: "cash",
      },
    }),
  );
  const trip = created.trip;
  log(`motorist requested ${trip.service_type}: trip ${trip.id}, quote ${trip.quote.amount / 100} ${trip.quote.currency}`);
  const watcher = motorist.trip(trip.id);
  if (observe) watcher.on((f) => observe("trip", f));
  await watcher.ready();

  const offer = await presence.next((f) => "trip_details" in f && f.trip_details.trip_id === trip.id, 15_000);
  log(`mechanic got the offer (expires ${"expires_at" in offer ? offer.expires_at : "?"})`);
  presence.send({ type: "offer_response", trip_id: trip.id, response: "accepted" });
  const result = await presence.next("offer_result");
  if (!("ok" in result) || !result.ok) throw new Error(`accept refused: ${JSON.stringify(result)}`);
  log("mechanic accepted");

  const job = mechanic.trip(trip.id);
  if (observe) job.on((f) => observe("trip", f));
  await job.ready();
  await job.next("snapshot");
  const step = async (frame: Parameters<typeof job.send>[0], event: string) => {
    job.send(frame);
    const seen = await watcher.next((f) => f.type === "event" && f.event === event);
    log(`motorist saw ${event} (seq ${"seq" in seen ? seen.seq : "?"})`);
  };
  await step({ type: "status", status: "en_route" }, "en_route");
  await step({ type: "status", status: "arrived" }, "arrived");
  await step({ type: "cash_collected" }, "cash_collected");
  if (!trip.handover_pin) throw new Error("the motorist's view has no handover PIN");
  await step({ type: "status", status: "in_progress", pin: trip.handover_pin }, "in_progress");
  await step({ type: "status", status: "completed" }, "completed");

  await unwrap(
    motorist.api.POST("/api/trips/{id}/rating", {
      params: { path: { id: trip.id } },
      body: { stars: 5, comment: "Quick and kind" },
    }),
  );
  await unwrap(mechanic.api.POST("/api/trips/{id}/rating", { params: { path: { id: trip.id } }, body: { stars: 5 } }));
  const ratings = await unwrap(motorist.api.GET("/api/trips/{id}/ratings", { params: { path: { id: trip.id } } }));
  log(`both rated each other: ${ratings.ratings.map((r) => `${r.stars}★`).join(", ")} (${ratings.count} ratings)`);
  const final = await unwrap(motorist.api.GET("/api/trips/{id}", { params: { path: { id: trip.id } } }));
  log(`trip ${final.status} at seq ${final.seq}; motorist's socket last saw seq ${watcher.lastSeq}`);

  for (const s of [presence, watcher, job]) s.close();
  return { tripId: trip.id, status: final.status, seq: final.seq, lastSeq: watcher.lastSeq };
}
