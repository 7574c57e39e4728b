/**
 * Where the golden fixtures live. Everything resolves from the repository root (found from this file,
 * not the cwd): `fixtures/` holds the copied permissively licensed files, and `../shared/data` beside
 * the clone holds the GPL ones, which the repository never copies (see fixtures/PROVENANCE.md).
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..")

/** A file under `fixtures/` (copied, non-GPL). */
export const fixturePath = (...parts: ReadonlyArray<string>): string => join(repoRoot, "fixtures", ...parts)

/** A file under `../shared/data` (read-only; the only place GPL captures are read from). */
export const sharedPath = (...parts: ReadonlyArray<string>): string => join(repoRoot, "..", "shared", "data", ...parts)

export const readBytes = (path: string): Uint8Array => {
  if (!existsSync(path)) throw new Error(`fixture missing: ${path}`)
  return new Uint8Array(readFileSync(path))
}

export const readText = (path: string): string => new TextDecoder().decode(readBytes(path))
