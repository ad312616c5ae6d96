import { writeSync } from "node:fs";
import { visible } from "../text/visible.js";

const LEVELS: Readonly<Record<number, string>> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
/** Fields every pino line has, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set(["level", "time", "pid", "hostname", "msg", "v"]);

/**
 * A pino destination that writes each entry as one readable line, `12:03:04 WARN message key=value …`, for a
 * person at a terminal. It receives what pino has already serialised and redacted; control and invisible characters
 * are shown as U+FFFD and values quoted when they hold anything but plain characters, so hostile text (escape
 * sequences from a registry's answer) cannot rewrite the terminal.
 */
export function textLogStream(fd: number): { write(line: string): void } {
  return {
    write(line) {
      writeSync(fd, `${formatLogLine(line)}\n`);
    },
  };
}

export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const time = typeof entry["time"] === "number" ? new Date(entry["time"]).toISOString().slice(11, 19) : "";
  const level = LEVELS[entry["level"] as number] ?? String(entry["level"]);
  const message = typeof entry["msg"] === "string" ? plain(entry["msg"]) : "";
  const fields: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    if (HEAD_FIELDS.has(key)) continue;
    if (key === "err" && value && typeof value === "object") {
      const err = value as { message?: unknown; type?: unknown };
      fields.push(`err=${quote(`${typeof err.type === "string" ? `${err.type}: ` : ""}${String(err.message ?? "")}`)}`);
      continue;
    }
    fields.push(`${plain(key)}=${typeof value === "string" ? quote(value) : quote(JSON.stringify(value) ?? "")}`);
  }
  return [time, level.padEnd(5), message, ...fields].filter((part) => part !== "").join(" ");
}

/** Text safe to print as is: control and invisible characters shown as U+FFFD. */
function plain(text: string): string {
  return visible(text);
}

function quote(text: string): string {
  return /^[\w./:@+,-]+$/.test(text) ? text : JSON.stringify(visible(text));
}
