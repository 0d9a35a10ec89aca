import { PeriodicTask } from './periodic-task';

describe('PeriodicTask', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs after each interval, goes on after a failure, and stop() waits for the run in progress', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    let release!: () => void;
    const task = new PeriodicTask(1000, async () => {
      runs++;
      if (runs === 1) throw new Error('boom');
      if (runs === 2) await new Promise<void>((r) => (release = r));
    }, (e) => errors.push(e));
    task.start();
    expect(runs).toBe(0);
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(1);
    expect(errors).toEqual([new Error('boom')]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(2);
    let stopped = false;
    const stopping = task.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    expect(task.stopping).toBe(true);
    release();
    await stopping;
    await jest.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(2);
  });
});
