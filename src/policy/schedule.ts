import { CronExpressionParser } from "cron-parser";

/** No repository runs on schedule more often than this, whatever its cron expression says. */
export const MIN_SCHEDULE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * The cron expression of a schedule. `daily` and `weekly` use cron-parser's `H` so that thousands of repositories
 * spread over the day (and week) instead of all running at midnight.
 */
export function scheduleExpression(schedule: string): string {
  if (schedule === "daily") return "H H * * *";
  if (schedule === "weekly") return "H H * * H";
  return schedule;
}

/** The last time at or before `now` that the schedule fires for this repository (`seed`: its full name), in UTC. */
export function lastScheduledTime(schedule: string, seed: string, now: Date): Date {
  const expression = CronExpressionParser.parse(scheduleExpression(schedule), {
    currentDate: new Date(now.getTime() + 1000),
    tz: "UTC",
    hashSeed: seed,
  });
  return expression.prev().toDate();
}

/** True when the schedule has fired since `lastRun`, and `lastRun` is at least the minimum interval ago. */
export function isDue(schedule: string, seed: string, lastRun: Date, now: Date): boolean {
  if (now.getTime() - lastRun.getTime() < MIN_SCHEDULE_INTERVAL_MS) return false;
  return lastScheduledTime(schedule, seed, now).getTime() > lastRun.getTime();
}
