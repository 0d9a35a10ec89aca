'use strict';
/**
 * Preloaded into each app by the lag bench (NODE_OPTIONS=--require, LAG_PROBE_DIR set): every 100 ms, one line of
 * what could have held the app up in that interval, so a stall in the lag can be put down to its cause:
 *   t     wall clock (ms) at the end of the interval
 *   loop  the longest event-loop delay seen (ms; a 10 ms timer firing late: JS busy, or the process not running)
 *   gc    ms of GC pauses, and gcMax the longest
 *   cpu   ms of CPU the process used (user + system, all threads)
 *   runq  ms the main thread waited on a run queue, runnable but not scheduled (/proc schedstat): CPU starvation
 * Written to LAG_PROBE_DIR/<app>.jsonl once a second (one small synchronous append) and at exit.
 */
const fs = require('node:fs');
const path = require('node:path');
const { monitorEventLoopDelay, PerformanceObserver } = require('node:perf_hooks');

const dir = process.env.LAG_PROBE_DIR;
// dist/bench/platform/apps/<app>/src/main.js
const app = /apps[\\/]([^\\/]+)[\\/]src[\\/]main\.js$/.exec(process.argv[1] ?? '')?.[1];
if (dir && app) {
  const file = path.join(dir, `${app}.jsonl`);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let gc = 0;
  let gcMax = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc += e.duration;
      if (e.duration > gcMax) gcMax = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const runDelay = () => {
    try {
      return Number(fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
    } catch {
      return 0;
    }
  };
  let lines = [];
  let cpu0 = process.cpuUsage();
  let runq0 = runDelay();
  const flush = () => {
    if (!lines.length) return;
    try {
      fs.appendFileSync(file, lines.join('\n') + '\n');
    } catch {
      /* the bench reads what it can */
    }
    lines = [];
  };
  let n = 0;
  const tick = setInterval(() => {
    const cpu = process.cpuUsage(cpu0);
    cpu0 = process.cpuUsage();
    const runq = runDelay();
    lines.push(JSON.stringify({
      t: Date.now(), loop: +(loop.max / 1e6).toFixed(1), gc: +gc.toFixed(1), gcMax: +gcMax.toFixed(1),
      cpu: +((cpu.user + cpu.system) / 1000).toFixed(1), runq: +(runq - runq0).toFixed(1),
    }));
    runq0 = runq;
    loop.reset();
    gc = 0;
    gcMax = 0;
    if (++n % 10 === 0) flush();
  }, 100);
  tick.unref();
  process.on('exit', flush);
}
