import { daySegments, rangeSegments } from './segments';

const t = (iso: string) => Date.parse(iso);
const show = (segments: ReturnType<typeof rangeSegments>) =>
  segments.map((s) => `${s.grain}:${new Date(s.from).toISOString().slice(0, 16)}-${new Date(s.to).toISOString().slice(0, 16)}${s.day ? `@${s.day}` : ''}`);

describe('rangeSegments', () => {
  it('reads whole UTC days as daily rows, and the whole weeks among them (Thursday to Thursday) as weekly rows', () => {
    expect(show(rangeSegments(t('2026-05-01T00:00Z'), t('2026-05-31T00:00Z')))).toEqual([
      '1440:2026-05-01T00:00-2026-05-07T00:00',
      '10080:2026-05-07T00:00-2026-05-28T00:00',
      '1440:2026-05-28T00:00-2026-05-31T00:00',
    ]);
    expect(show(rangeSegments(t('2026-05-01T00:00Z'), t('2026-05-06T00:00Z')))).toEqual(['1440:2026-05-01T00:00-2026-05-06T00:00']);
  });

  it('climbs quarter hours -> hours -> days and back down at the edges (Kathmandu, +05:45)', () => {
    // Kathmandu's 1..30 May: [30 Apr 18:15, 30 May 18:15) UTC.
    expect(show(rangeSegments(t('2026-04-30T18:15Z'), t('2026-05-30T18:15Z')))).toEqual([
      '15:2026-04-30T18:15-2026-04-30T19:00',
      '60:2026-04-30T19:00-2026-05-01T00:00',
      '1440:2026-05-01T00:00-2026-05-07T00:00',
      '10080:2026-05-07T00:00-2026-05-28T00:00',
      '1440:2026-05-28T00:00-2026-05-30T00:00',
      '60:2026-05-30T00:00-2026-05-30T18:00',
      '15:2026-05-30T18:00-2026-05-30T18:15',
    ]);
  });

  it('stays in quarter hours inside one hour, and covers nothing for an empty range', () => {
    expect(show(rangeSegments(t('2026-05-01T10:15Z'), t('2026-05-01T10:45Z')))).toEqual(['15:2026-05-01T10:15-2026-05-01T10:45']);
    expect(rangeSegments(t('2026-05-01T10:15Z'), t('2026-05-01T10:15Z'))).toEqual([]);
  });

  it('covers every quarter hour exactly once for any aligned range', () => {
    const q = 15 * 60_000;
    const start = t('2026-03-07T00:00Z');
    for (let i = 0; i < 200; i++) {
      const from = start + ((i * 37) % 400) * q;
      // Up to ~41 days: every grain, weeks included, at every alignment.
      const to = from + ((i * 53) % 4000) * q;
      const segments = rangeSegments(from, to);
      let at = from;
      for (const s of segments) {
        expect(s.from).toBe(at);
        expect(s.from % (s.grain * 60_000)).toBe(0);
        expect(s.to % (s.grain * 60_000)).toBe(0);
        at = s.to;
      }
      expect(at).toBe(to);
    }
  });

  it('refuses a range that is not quarter-hour aligned', () => {
    expect(() => rangeSegments(t('2026-05-01T10:10Z'), t('2026-05-01T11:00Z'))).toThrow(/aligned/);
  });
});

describe('daySegments', () => {
  // New York around the spring DST change: 8 March 2026 has 23 hours.
  const midnights = [new Date('2026-03-07T05:00Z'), new Date('2026-03-08T05:00Z'), new Date('2026-03-09T04:00Z')];

  it('labels each local day when grouping by date, whatever its length', () => {
    expect(show(daySegments(midnights, ['2026-03-07', '2026-03-08'], true))).toEqual([
      // Runs of one grain that touch are read as one.
      '60:2026-03-07T05:00-2026-03-08T05:00@2026-03-07',
      '60:2026-03-08T05:00-2026-03-09T04:00@2026-03-08',
    ]);
  });

  it('reads the whole range as one run otherwise', () => {
    expect(show(daySegments(midnights, ['2026-03-07', '2026-03-08'], false))).toEqual([
      '60:2026-03-07T05:00-2026-03-08T00:00',
      '1440:2026-03-08T00:00-2026-03-09T00:00',
      '60:2026-03-09T00:00-2026-03-09T04:00',
    ]);
  });
});
