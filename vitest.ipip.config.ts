import { defineConfig } from "vitest/config"

/** The IP-in-IP end-to-end test: only on kernels with the ipip module (`npm run test:ipip`). */
export default defineConfig({
  test: { include: ["packages/kernel/test/*.e2e.ts"], testTimeout: 120_000, hookTimeout: 60_000 }
})
