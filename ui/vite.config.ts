// Vite builds the webview's files into dist/, which the Tauri shell embeds.
// Preact's JSX runtime is set here and in tsconfig.json. The dev server binds
// to loopback only; `?mock` in its URL installs the fake backend (dev only).

import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "./",
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  resolve: {
    alias: {
      react: "preact/compat",
      "react-dom": "preact/compat",
    },
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    target: "es2022",
    sourcemap: false,
    // The CSP of the shell forbids inline scripts; keep every asset a file.
    assetsInlineLimit: 0,
  },
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    environment: "node",
  },
});
