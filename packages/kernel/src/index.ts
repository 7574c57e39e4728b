/**
 * @starling/kernel — keeps a Linux routing table in sync with the RIB (export) and announces routes the
 * node owns (import), through iproute2. See ARCHITECTURE.md "@starling/kernel" for the backend choice.
 */
export * from "./route.ts"
export * from "./iproute.ts"
export * from "./service.ts"
export * from "./sync.ts"
export * from "./exporter.ts"
export * from "./importer.ts"
