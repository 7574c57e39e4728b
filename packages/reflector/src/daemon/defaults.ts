/** Defaults shared with the CLI (a module without imports, so `starling show` loads fast). */
export const DEFAULT_API_PORT = 8179
