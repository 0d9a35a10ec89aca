'use strict';
module.exports = async function globalTeardown() {
  for (const c of globalThis.__TRACKLY_CONTAINERS__ ?? []) await c.stop().catch(() => undefined);
};
