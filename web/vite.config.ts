import { defineConfig } from 'vite';

// The page is served by `layerlab serve` from web/dist; `npx vite` (dev server) proxies the API
// to a running server on :8080. The server refuses a foreign Host or Origin (DNS rebinding,
// cross-site requests), so the proxy sends the server's own Host and drops the dev page's Origin.
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2020' },
  server: {
    proxy: {
      '/api': {
        target: 'http://127.0.0.1:8080',
        changeOrigin: true,
        configure: (proxy) => proxy.on('proxyReq', (req) => req.removeHeader('origin')),
      },
    },
  },
});
