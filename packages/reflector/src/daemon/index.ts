/**
 * The standalone route-reflector daemon (`starling run`): config file, reload planning, management API,
 * metrics and logging. Import from "@starling/reflector/daemon/index" (kept out of the package's main
 * entry so that library users do not load pino, yaml and node:http).
 */
export * from "./api.ts"
export * from "./config.ts"
export * from "./daemon.ts"
export * from "./logging.ts"
export * from "./metrics.ts"
export * from "./plan.ts"
export * from "./views.ts"
