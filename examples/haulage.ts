// Toota's haulage flow (toota.v1) against `npm start`: npm run example:haulage
import { haulage } from "./flows/haulage";
import { runExample } from "./run";

await runExample("haulage", haulage);
