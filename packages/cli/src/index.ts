/** Subcommands of `starling`, by name. */
export interface Command {
  readonly summary: string
  readonly run: (args: ReadonlyArray<string>) => Promise<number>
}

const lazy = (summary: string, load: () => Promise<{ run: Command["run"] }>): Command => ({
  summary,
  run: async (args) => (await load()).run(args)
})

export const commands: Readonly<Record<string, Command>> = {
  demo: lazy("demo [--nodes N] — a reflector and N node speakers on loopback; prints the converged tables", () => import("./commands/demo.ts")),
  decode: lazy("decode <hex> — one BGP message (marker included) as JSON", () => import("./commands/decode.ts")),
  mrt: lazy("mrt <file> [--format json|bgpdump] — routes and updates of an MRT file", () => import("./commands/mrt.ts")),
  run: lazy("run --config <file> [--dry-run] — the route reflector daemon (SIGHUP reloads, SIGTERM stops)", () => import("./commands/run.ts")),
  show: lazy("show neighbors|routes|route <prefix> [--json] — tables from a running daemon's API", () => import("./commands/show.ts"))
}

export const usage = (): string =>
  `usage: starling <command> [options]\n\n${
    Object.entries(commands).map(([n, c]) => `  ${n.padEnd(8)} ${c.summary}`).join("\n")
  }\n`
