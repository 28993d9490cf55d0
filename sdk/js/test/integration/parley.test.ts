// The scenario suite with Parley's SignallingClient (the built dist/index.mjs).
import { defineScenarios } from "./scenarios.js";
import { parleySdk } from "./helpers.js";

defineScenarios("parley", parleySdk);
