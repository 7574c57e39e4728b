#!/usr/bin/env node
/**
 * The `starling` command. Each subcommand lives in `commands/<name>.ts` and exports
 * `run(args): Promise<number>` (the exit code); this file only dispatches.
 */
import { commands, usage } from "./index.ts"

const [name, ...args] = process.argv.slice(2)
const command = name === undefined ? undefined : commands[name]
if (command === undefined) {
  process.stderr.write(usage())
  process.exitCode = name === undefined || name === "help" || name === "--help" ? 0 : 2
} else {
  process.exitCode = await command.run(args)
}
