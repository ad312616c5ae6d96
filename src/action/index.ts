// The GitHub Action's entry (action.yml runs its bundle, dist-action/index.js: `npm run build:action`).
import { runAction } from "./run.js";

process.exitCode = await runAction();
