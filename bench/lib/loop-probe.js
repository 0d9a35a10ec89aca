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
  watchPulls((line) => lines.push(JSON.stringify(line)));
  watchRelay((line) => lines.push(JSON.stringify(line)));
}

/**
 * Every pass of the app's outbox relay (OutboxRelay's claim and finish, wrapped) that took over 300 ms from its claim
 * to its commit, or began over 400 ms after the one before ended, as { t, relay: schema, n, claim, acks, mark, gap }
 * (ms): claim = BEGIN + SELECT … FOR UPDATE, acks = publish until JetStream acknowledged the batch, mark = UPDATE +
 * COMMIT, gap = since the previous batch's commit.
 */
function watchRelay(write) {
  let R;
  try {
    R = require(path.resolve(path.dirname(process.argv[1]), '../../../libs/messaging/src/outbox.js')).OutboxRelay;
  } catch {
    return;
  }
  const claim = R?.prototype?.claim;
  const finish = R?.prototype?.finish;
  if (typeof claim !== 'function' || typeof finish !== 'function') return;
  let lastEnd = 0;
  R.prototype.claim = async function () {
    const t0 = Date.now();
    const c = await claim.call(this);
    if (c) c.probe = { t0, t1: Date.now(), gap: lastEnd ? t0 - lastEnd : 0 };
    return c;
  };
  R.prototype.finish = async function (c) {
    const p = c.probe;
    let t2 = 0;
    c.acks.then(() => (t2 = Date.now()), () => undefined);
    try {
      return await finish.call(this, c);
    } finally {
      const t3 = Date.now();
      lastEnd = t3;
      if (p && (t3 - p.t0 > 300 || p.gap > 400)) {
        write({ t: t3, relay: this.schema, n: c.seqs.length, claim: p.t1 - p.t0, acks: t2 ? t2 - p.t1 : null, mark: t2 ? t3 - t2 : null, gap: p.gap });
      }
    }
  };
}

/**
 * Every JetStream fetch of the app (nats.js PullConsumerImpl.fetch, wrapped): a pull that stayed open past 1.1 s, went
 * 0.9 s without a message after its first, ended in an error (e.g. "heartbeats missed") or got a status other than a
 * heartbeat or its expiry is written as { t, pull: durable, asked, open, n, first, quiet, err, statuses } (ms): which pulls of
 * which durable went quiet, and how each ended. Statuses are read on their own iterator, so the last ones (the 408 of
 * an expiry) may come after the pull was written.
 */
function watchPulls(write) {
  let P;
  try {
    P = require(path.join(path.dirname(require.resolve('@nats-io/jetstream')), 'consumer.js')).PullConsumerImpl;
  } catch {
    return;
  }
  const fetch = P?.prototype?.fetch;
  if (typeof fetch !== 'function') return;
  P.prototype.fetch = async function (opts) {
    const t0 = Date.now();
    const iter = await fetch.call(this, opts);
    const durable = this.name;
    const statuses = [];
    let n = 0;
    let first;
    let last = t0;
    let quiet = 0;
    (async () => {
      for await (const st of iter.status()) {
        if (st.type === 'heartbeat' || st.type === 'next') continue;
        const left = st.type === 'discard' ? ` ${st.messagesLeft} left` : '';
        statuses.push(`${st.type}${st.code ? ` ${st.code}` : ''}${st.description ? ` ${st.description}` : ''}${left} @${Date.now() - t0}`);
      }
    })().catch(() => undefined);
    const done = (err) => {
      const end = Date.now();
      quiet = Math.max(quiet, end - last);
      const open = end - t0;
      // A normal end is the expiry (discard + 408 at ~1 s) or a full batch: those alone are not written.
      const unusual = statuses.some((x) => !/^(discard|debug 408)/.test(x));
      if (open > 1100 || err || unusual || (n > 0 && quiet > 900)) {
        const asked = opts?.max_messages;
        write({ t: end, pull: durable, asked, open, n, first: first === undefined ? null : first - t0, quiet, err: err ? String(err.message ?? err) : undefined, statuses });
      }
    };
    const make = iter[Symbol.asyncIterator].bind(iter);
    iter[Symbol.asyncIterator] = () => {
      const inner = make();
      return {
        async next() {
          try {
            const r = await inner.next();
            if (r.done) done();
            else {
              const now = Date.now();
              quiet = Math.max(quiet, now - last);
              last = now;
              first ??= now;
              n++;
            }
            return r;
          } catch (e) {
            done(e);
            throw e;
          }
        },
        return: inner.return ? (v) => inner.return(v) : undefined,
        throw: inner.throw ? (e) => inner.throw(e) : undefined,
      };
    };
    return iter;
  };
}
