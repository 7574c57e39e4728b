/**
 * Logs: pino writes one JSON object per line (what log collectors in Kubernetes expect); on a terminal
 * the same lines go through a small formatter instead (time, level, message, key=value) — pino-pretty
 * would be a dependency tree for twenty lines of code.
 *
 * Effect's logs reach pino through `Logger.make`: the message, the level, the fiber's log annotations
 * (`peer`, `conn`, ...) and spans as fields, and a failure cause as `err`.
 */
import { Cause, Layer, Logger, References } from "effect"
import type { LogLevel } from "effect"
import pino from "pino"

export type LevelName = "trace" | "debug" | "info" | "warn" | "error" | "fatal"

export interface LogSettings {
  readonly level?: LevelName
  /** "auto" (default): pretty on a terminal, JSON otherwise. */
  readonly format?: "json" | "pretty" | "auto"
}

export interface LogSink {
  write(line: string): void
  readonly isTTY?: boolean
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" }
const COLORS: Record<number, string> = { 10: "\x1b[90m", 20: "\x1b[36m", 30: "\x1b[32m", 40: "\x1b[33m", 50: "\x1b[31m", 60: "\x1b[35m" }

const fieldText = (v: unknown): string => {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v
  return JSON.stringify(v) ?? String(v)
}

/** One pino JSON line as `12:00:01.234 INFO  message key=value ...` (colored when `color`). */
export const prettyLine = (line: string, color = false): string => {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const { level, time, msg, pid: _pid, hostname: _host, err, ...rest } = o
  const lv = typeof level === "number" ? level : 30
  const t = typeof time === "number" ? new Date(time).toISOString().slice(11, 23) : ""
  const name = (LEVEL_NAMES[lv] ?? String(level)).padEnd(5)
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${fieldText(v)}`).join(" ")
  const head = color ? `\x1b[2m${t}\x1b[0m ${COLORS[lv] ?? ""}${name}\x1b[0m` : `${t} ${name}`
  const tail = typeof err === "string" ? `\n${err.replace(/^/gm, "    ")}` : ""
  return `${head} ${String(msg ?? "")}${fields === "" ? "" : ` ${color ? `\x1b[2m${fields}\x1b[0m` : fields}`}${tail}\n`
}

/** A pino logger writing to `sink` (stdout by default), JSON or pretty per the settings. */
export const makePino = (settings: LogSettings = {}, sink: LogSink = process.stdout): pino.Logger => {
  const pretty = settings.format === "pretty" || ((settings.format ?? "auto") === "auto" && sink.isTTY === true)
  const color = pretty && sink.isTTY === true
  // Synchronous writes: the lines written just before exit (shutdown) must not be lost.
  const dest: pino.DestinationStream = pretty
    ? { write: (line: string) => sink.write(prettyLine(line, color)) }
    : sink === process.stdout
    ? pino.destination({ dest: 1, sync: true })
    : { write: (line: string) => sink.write(line) }
  return pino({ level: settings.level ?? "info", base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime }, dest)
}

const pinoLevel = (l: LogLevel.LogLevel): LevelName | undefined => {
  switch (l) {
    case "Fatal":
      return "fatal"
    case "Error":
      return "error"
    case "Warn":
      return "warn"
    case "Info":
      return "info"
    case "Debug":
      return "debug"
    case "Trace":
    case "All":
      return "trace"
    case "None":
      return undefined
  }
}

/** Effect's logger that hands every log to `logger` (pino does the level filtering). */
export const pinoLogger = (logger: pino.Logger): Logger.Logger<unknown, void> =>
  Logger.make(({ message, logLevel, cause, fiber, date }) => {
    const level = pinoLevel(logLevel)
    if (level === undefined || !logger.isLevelEnabled(level)) return
    const fields: Record<string, unknown> = { ...fiber.getRef(References.CurrentLogAnnotations) }
    const spans = fiber.getRef(References.CurrentLogSpans)
    if (spans.length > 0) {
      const now = date.getTime()
      fields.spans = Object.fromEntries(spans.map(([label, start]) => [label, now - start]))
    }
    const parts = Array.isArray(message) ? message : [message]
    const text: string[] = []
    for (const p of parts) {
      if (typeof p === "string") text.push(p)
      else if (p !== null && typeof p === "object" && !(p instanceof Error)) Object.assign(fields, p)
      else text.push(String(p))
    }
    if (cause.reasons.length > 0) fields.err = Cause.pretty(cause)
    logger[level](fields, text.join(" "))
  })

/**
 * Replaces Effect's loggers with the pino bridge and lets every level through to it (pino's own level,
 * which a reload may change, decides what is written).
 */
export const pinoLayer = (logger: pino.Logger): Layer.Layer<never> =>
  Layer.merge(Logger.layer([pinoLogger(logger)]), Layer.succeed(References.MinimumLogLevel, "Trace"))
