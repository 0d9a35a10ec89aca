/** Time source injected wherever a rule depends on "now", so tests freeze and move time. */
export interface Clock {
  now(): Date;
}

/** Injection token under which services receive their Clock. */
export const CLOCK = Symbol('trackly.Clock');

export const systemClock: Clock = { now: () => new Date() };

/** A clock tests set and advance by hand. */
export class ManualClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  set(at: Date | string): void {
    this.current = new Date(at);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export const MS_PER_DAY = 86_400_000;
