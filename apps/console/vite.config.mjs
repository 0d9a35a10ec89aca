// The console's build: React (JSX by Vite's own transform, no plugin), one origin, no inline script (the gateway's
// Content-Security-Policy allows scripts and styles from 'self' only), hashed file names cached for a year.
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

export default {
  root,
  base: '/',
  publicDir: 'public',
  logLevel: 'warn',
  // Production JSX whatever NODE_ENV the caller has: Vite derives the transform's development mode from it, and a
  // build run inside Jest (NODE_ENV=test, e.g. a spec's `nx build gateway`) shipped jsxDEV calls to production React.
  oxc: { jsx: { runtime: 'automatic', importSource: 'react', development: false } },
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    outDir: fileURLToPath(new URL('../../dist/apps/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // No inline polyfill script: the CSP forbids inline scripts, and every browser the console supports has modulepreload.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
    rolldownOptions: {
      // React Query's "use client" markers mean nothing outside React Server Components.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
};
