// The same scenario suite with the official @metered-ca/realtime 1.2.0 SignallingClient.
import { defineScenarios } from "./scenarios.js";
import { officialSdk } from "./helpers.js";

defineScenarios("official", officialSdk);
