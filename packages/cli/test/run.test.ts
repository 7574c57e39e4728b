/**
 * `starling run`: argument and config errors (the field, file, line and column), and `--dry-run`, both
 * against another file and against a running daemon over its API (127.66.9.120-129).
 */
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { lab } from "../../../test/interop/lib/addresses.ts"
import type { TestDaemon } from "../../reflector/test/daemon-support.ts"
import { captureOutput, runCli, startDaemon, tempDir, writeConfig } from "../../reflector/test/daemon-support.ts"
import { run } from "../src/commands/run.ts"

const cli = (args: ReadonlyArray<string>) => captureOutput(() => run(args))

const h = lab(9).host
const dir = tempDir("cli-run")
let daemon: TestDaemon | undefined
afterAll(async () => {
  await daemon?.close()
})

const config = (neighbors: string, api = "api: { enabled: false }") => `localAs: 64512
routerId: 10.255.9.120
listen: [{ address: ${h(120)} }]
policies:
  all: { statements: [], default: accept }
neighbors:
${neighbors}${api}
`
const nb = (n: number, extra = "") => `  - { address: ${h(n)}, peerAs: 64512, passive: true, routeReflectorClient: true${extra} }\n`

describe("starling run", () => {
  it("needs --config; explains its options", async () => {
    const r = await cli([])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("starling run: --config <file> is required")
    expect(r.stderr).toContain("usage: starling run --config <file>")
    expect((await cli(["--config", "x.yaml", "--bogus"])).stderr).toContain("unknown argument --bogus")
    const missing = await cli(["--config", join(dir, "missing.yaml")])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/missing.yaml: cannot read: ENOENT/)
  })

  it("refuses a config with errors, naming each field with file, line and column", async () => {
    const badLine = `  - { address: ${h(122)}, peerAs: 0, keepalive: 3 }`
    const file = writeConfig(dir, "bad.yaml", config(nb(121) + `${badLine}\n`))
    const r = await runCli(["run", "--config", file])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe("")
    const col = (key: string) => badLine.indexOf(key) + 1
    expect(r.stderr.trim().split("\n").sort()).toEqual([
      `${file}:8:${col("keepalive")}: neighbors[1].keepalive: unknown field`,
      `${file}:8:${col("peerAs")}: neighbors[1].peerAs: Expected a value between 1 and 4294967295, got 0`
    ].sort())
  })

  it("--dry-run --against <old>: what a reload would change, without a daemon", async () => {
    const old = writeConfig(dir, "old.yaml", config(nb(121) + nb(122) + nb(123)))
    const next = writeConfig(dir, "new.yaml", config(nb(121) + nb(122, ", holdTime: 30") + nb(123, ", importPolicy: all") + nb(124)))
    const r = await cli(["--config", next, "--dry-run", "--against", old])
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toBe([
      `dry run: what a reload would change (against ${old}; sessions assumed up with ROUTE-REFRESH)`,
      `neighbor ${h(122)}  reset          [holdTime] session resets: holdTime is negotiated in OPEN`,
      `neighbor ${h(123)}  route-refresh  [importPolicy] ROUTE-REFRESH request to the neighbor (RFC 2918)`,
      `neighbor ${h(124)}  add            new session`,
      ""
    ].join("\n"))
  })

  it("--dry-run asks the running daemon, which knows which sessions are up", async () => {
    const running = config(nb(121) + nb(122), "api: { address: 127.0.0.1, port: 0, token: dry }")
    daemon = await startDaemon(running)
    const api = `http://127.0.0.1:${daemon.daemon.api()!.port}`
    const next = writeConfig(dir, "next.yaml", config(nb(121, ", importPolicy: all") + nb(125), "api: { address: 127.0.0.1, port: 0, token: dry }"))
    const r = await runCli(["run", "--config", next, "--dry-run", "--api", api, "--token", "dry"])
    expect(r.stderr).toBe("")
    expect(r.stdout.split("\n")).toEqual([
      `dry run: what a reload would change (against the daemon at ${api})`,
      `neighbor ${h(122)}  remove    session closed with Cease/Administrative Shutdown`,
      `neighbor ${h(121)}  in-place  [importPolicy] applies when the session comes up (not established)`,
      `neighbor ${h(125)}  add       new session`,
      ""
    ])
    // Nothing was applied.
    expect((await daemon.neighbors()).map((n) => n.address)).toEqual([h(121), h(122)])
    const noToken = await cli(["--config", next, "--dry-run", "--api", api, "--token", "wrong"])
    expect(noToken.code).toBe(1)
    expect(noToken.stderr).toContain("401 missing or wrong bearer token")
    const nobody = await cli(["--config", next, "--dry-run", "--api", `http://${h(129)}:8179`])
    expect(nobody.code).toBe(1)
    expect(nobody.stderr).toContain(`the config is valid, but no daemon answered at http://${h(129)}:8179 (connect ECONNREFUSED`)
  })
})
