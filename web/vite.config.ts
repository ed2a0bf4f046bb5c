import { defineConfig } from 'vite';

// The page is served by `layerlab serve` from web/dist; `npx vite` (dev server) proxies the API
// to a running server on :8080.
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2020' },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
