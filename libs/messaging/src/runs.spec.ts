import { createHash } from 'node:crypto';
import { cutRuns, runId } from './runs';

const seq = (n: number) => Array.from({ length: n }, (_, i) => i);
/** The id the contract gives a run: base64url sha256 of its ids, each followed by "\n". */
const expectedId = (prefix: string, ids: string[]) => `${prefix}:${createHash('sha256').update(ids.map((id) => `${id}\n`).join('')).digest('base64url')}`;

describe('cutRuns', () => {
  it('gives no runs for no rows, whatever the options', () => {
    expect(cutRuns([], 100)).toEqual([]);
    expect(cutRuns([], 1, () => false)).toEqual([]);
  });

  it('cuts consecutive rows into runs of at most max, in order, every row once', () => {
    const rows = seq(250);
    const runs = cutRuns(rows, 100);
    expect(runs.map((r) => r.length)).toEqual([100, 100, 50]);
    expect(runs.flat()).toEqual(rows);
    expect(runs[1][0]).toBe(100);
  });

  it('fills a run of exactly max and starts the next at the following row', () => {
    expect(cutRuns(seq(100), 100).map((r) => r.length)).toEqual([100]);
    expect(cutRuns(seq(101), 100).map((r) => r.length)).toEqual([100, 1]);
    expect(cutRuns(seq(99), 100).map((r) => r.length)).toEqual([99]);
  });

  it('gives each row a run of its own with max 1', () => {
    expect(cutRuns(['a', 'b', 'c'], 1)).toEqual([['a'], ['b'], ['c']]);
  });

  it('keeps one row as a run of one', () => {
    expect(cutRuns(['only'], 100)).toEqual([['only']]);
  });

  it('starts a new run wherever sameRun says the row does not belong with the previous one', () => {
    const rows = [
      { id: 1, tx: 'a' }, { id: 2, tx: 'a' }, { id: 3, tx: 'b' }, { id: 4, tx: 'b' }, { id: 5, tx: 'b' }, { id: 6, tx: 'a' },
    ];
    const calls: [number, number][] = [];
    const runs = cutRuns(rows, 100, (previous, row) => {
      calls.push([previous.id, row.id]);
      return previous.tx === row.tx;
    });
    expect(runs.map((r) => r.map((x) => x.id))).toEqual([[1, 2], [3, 4, 5], [6]]);
    // Asked about each row and the one before it (the last of the current run), never about the first row.
    expect(calls).toEqual([[1, 2], [2, 3], [3, 4], [4, 5], [5, 6]]);
  });

  it('cuts at max and at sameRun both, restarting the count at each cut', () => {
    const rows = seq(230).map((i) => ({ i, tx: i < 150 ? 7 : 8 }));
    const runs = cutRuns(rows, 100, (a, b) => a.tx === b.tx);
    expect(runs.map((r) => r.length)).toEqual([100, 50, 80]);
    expect(runs.flat().map((r) => r.i)).toEqual(seq(230));
  });

  it('gives every row a run of its own when sameRun is always false', () => {
    expect(cutRuns(seq(3), 100, () => false)).toEqual([[0], [1], [2]]);
  });

  it('does not change the rows it was given', () => {
    const rows = Object.freeze(seq(5));
    expect(cutRuns(rows, 2)).toEqual([[0, 1], [2, 3], [4]]);
    expect(rows).toEqual(seq(5));
  });
});

describe('runId', () => {
  it('is the prefix and the base64url sha256 of the ids, each followed by "\\n"', () => {
    expect(runId('click-run', ['a', 'b'])).toBe(expectedId('click-run', ['a', 'b']));
    expect(runId('click-run', ['a', 'b'])).toMatch(/^click-run:[A-Za-z0-9_-]{43}$/);
    expect(runId('sent-run', ['m-1'])).toBe(`sent-run:${createHash('sha256').update('m-1\n').digest('base64url')}`);
  });

  it('is stable: the same ids give the same id, from an array or any iterable', () => {
    const ids = seq(100).map((i) => `click-${i}`);
    const id = runId('click-run', ids);
    expect(runId('click-run', [...ids])).toBe(id);
    expect(runId('click-run', new Set(ids))).toBe(id);
    expect(runId('click-run', (function* () { yield* ids; })())).toBe(id);
  });

  it('keeps the prefix apart: the same ids under another prefix differ only by it', () => {
    const click = runId('click-run', ['x', 'y']);
    const sent = runId('sent-run', ['x', 'y']);
    expect(click).not.toBe(sent);
    expect(click.startsWith('click-run:')).toBe(true);
    expect(sent.startsWith('sent-run:')).toBe(true);
    expect(click.slice('click-run:'.length)).toBe(sent.slice('sent-run:'.length));
  });

  it('depends on the order of the ids', () => {
    expect(runId('click-run', ['a', 'b'])).not.toBe(runId('click-run', ['b', 'a']));
  });

  it('depends on every id: one more, one fewer or one other gives another id', () => {
    const ids = seq(10).map(String);
    const all = [ids, ids.slice(1), ids.slice(0, 9), [...ids, '10'], [...ids.slice(0, 9), 'x']].map((r) => runId('click-run', r));
    expect(new Set(all).size).toBe(all.length);
  });

  it('terminates each id in the digest: ["ab", "c"] and ["a", "bc"] are different runs', () => {
    expect(runId('click-run', ['ab', 'c'])).not.toBe(runId('click-run', ['a', 'bc']));
    expect(runId('click-run', ['abc'])).not.toBe(runId('click-run', ['ab', 'c']));
  });

  it('gives an empty run the digest of nothing', () => {
    expect(runId('click-run', [])).toBe(`click-run:${createHash('sha256').digest('base64url')}`);
  });
});
