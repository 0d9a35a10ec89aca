import { engagementOf, engagementsSql, isTap, tapSql } from './engagement';

const click = (clickId: string, at: number, clickClass = 'HUMAN') => ({ clickId, clickedAt: new Date(at), clickClass });

describe('engagement (a counted click)', () => {
  it('counts people only: HUMAN and UNSPECIFIED are taps, previews and bots are not', () => {
    expect(['HUMAN', 'UNSPECIFIED', 'PREVIEW', 'BOT'].map((c) => isTap({ clickClass: c }))).toEqual([true, true, false, false]);
    expect(tapSql('c')).toBe(`c.click_class IN ('HUMAN', 'UNSPECIFIED')`);
  });

  it('is the first tap of a message whatever order the clicks arrive in; later taps are not new engagements', () => {
    const taps = [click('k3', 3000), click('k1', 1000), click('k2', 2000)];
    expect(engagementOf(taps)?.clickId).toBe('k1');
    expect(engagementOf([...taps].reverse())?.clickId).toBe('k1');
  });

  it('skips a preview fetched before the person tapped, and breaks time ties by click id', () => {
    expect(engagementOf([click('p', 500, 'PREVIEW'), click('k9', 1000), click('k2', 1000)])?.clickId).toBe('k2');
    expect(engagementOf([click('b', 1, 'BOT'), click('p', 2, 'PREVIEW')])).toBeUndefined();
  });

  it('has one SQL spelling, ordered the same way', () => {
    expect(engagementsSql('message_id = ANY($1::text[])')).toMatch(
      /DISTINCT ON \(message_id\)[\s\S]*click_class IN \('HUMAN', 'UNSPECIFIED'\) AND \(message_id = ANY\(\$1::text\[\]\)\)[\s\S]*ORDER BY message_id, clicked_at, click_id/,
    );
  });
});
