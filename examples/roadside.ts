// Fix On Call's roadside flow against `npm start`: npm run example:roadside
import { roadside } from "./flows/roadside";
import { runExample } from "./run";

await runExample("roadside", roadside);
