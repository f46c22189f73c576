import { defineConfig } from 'vite';

// The console function serves index.html at `/` and under `/console/`, with a `<base href>` set to
// the API's root (`/` locally, `/<stage>/` behind API Gateway): so every URL in the built app is
// relative (`base: './'`), and the hashed assets live under `console/assets/`, beside the API's own
// routes rather than among them.
const api = process.env.LATCHKEY_API ?? 'http://127.0.0.1:3000';

export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    // build.rs builds into Cargo's OUT_DIR, to embed from there; by hand it is dist/.
    outDir: process.env.LATCHKEY_WEB_OUT ?? 'dist',
    emptyOutDir: true,
    assetsDir: 'console/assets',
    target: 'es2022',
    sourcemap: false,
    // No inline module-preload polyfill: the page's policy allows no inline script.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  // `npm run dev`: the app with hot reload on :5173, the API proxied to a running `make run`.
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: { '^/(credentials|connectors|dev|oauth|openapi\\.json)(/|$|\\?)': api },
  },
});
