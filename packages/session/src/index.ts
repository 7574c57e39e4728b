/**
 * @starling/session — the RFC 4271 session: a pure FSM (`fsm.ts`), OPEN negotiation (`negotiate.ts`) and
 * the Effect driver that owns sockets and timers (`driver.ts`, `transport.ts`).
 */
export * from "./config.ts"
export * from "./negotiate.ts"
export * from "./fsm.ts"
export * from "./transport.ts"
export * from "./driver.ts"
export * from "./listener.ts"
