/**
 * Loopback addresses for interop tests. All of 127.0.0.0/8 is on `lo`, so every router (and Starling)
 * gets its own address and can use port 179 without colliding. Each test file takes its own /24 inside
 * 127.66.0.0/16 (by a fixed number per file) so files running in parallel never share an address.
 */
export const lab = (fileNumber: number) => {
  if (fileNumber < 1 || fileNumber > 250) throw new Error("file number out of range")
  return {
    /** Host `n` (1..254) of this file's /24. */
    host: (n: number): string => `127.66.${fileNumber}.${n}`
  }
}
