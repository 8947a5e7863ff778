// Vite config. JSX goes through esbuild's built-in transform (no React
// plugin). `npm run dev` proxies /orchestrator and /healthz to a gateway
// (CODEREF_GATEWAY, default http://127.0.0.1:8000), so the page can keep
// deriving every URL from its own origin in development too.
import { defineConfig } from 'vitest/config';

const gateway = process.env.CODEREF_GATEWAY || 'http://127.0.0.1:8000';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2020',
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/orchestrator': { target: gateway, ws: true, changeOrigin: false },
      '/healthz': { target: gateway },
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
