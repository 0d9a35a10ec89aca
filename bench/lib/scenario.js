'use strict';
/**
 * The frame every scenario runs in: alone on the machine (the bench lock, unless bench/run.js holds it and passes
 * --no-build), on a fresh build, a fresh database and a clean stream prefix. `body` gets the database's URL and
 * `onCleanup(fn)`; whatever it registers runs last-first when the body ends or throws, then the database is dropped
 * and the prefix's streams deleted. An error exits the process with 1.
 */
const { acquireBenchLock, createDatabase, dropDatabase, deleteStreams } = require('./common');
const { ensureBuilt } = require('./platform');

function runScenario(args, { db, prefix }, body) {
  const main = async () => {
    // Run alone (not by bench/run.js, which holds the lock and passes --no-build): wait for any other bench.
    if (args['no-build'] !== 'true') await acquireBenchLock();
    ensureBuilt(args);
    // Streams left by an interrupted run would be consumed first (durable consumers resume) and skew the figures.
    await deleteStreams(prefix);
    const databaseUrl = await createDatabase(db);
    const cleanups = [];
    try {
      await body({ databaseUrl, onCleanup: (fn) => cleanups.push(fn) });
    } finally {
      for (const fn of cleanups.reverse()) await fn();
      await dropDatabase(db);
      await deleteStreams(prefix).catch(() => undefined);
    }
  };
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

module.exports = { runScenario };
