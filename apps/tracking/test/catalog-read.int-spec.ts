import { status } from '@grpc/grpc-js';
import { GrpcCallError } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { startTrackingForTest, TrackingTestApp } from './tracking-test-app';

/** Reading the catalog back over gRPC (issue 16, item 8): Get and cursor-paged List of offers, creatives, campaigns. */
describe('catalog reads (real Postgres, NATS, gRPC)', () => {
  let t: TrackingTestApp;
  let client: TrackingTestApp['client'];
  const clock = new ManualClock(new Date('2026-11-20T09:00:00Z'));

  beforeAll(async () => {
    t = await startTrackingForTest({}, clock);
    client = t.client;
  });

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: GrpcCallError) => e);

  it('GetOffer returns every attribution term as upserted; unset terms stay unset', async () => {
    clock.set('2026-11-20T09:00:00Z');
    await client.upsertOffer({
      offerId: 'summer-sale', name: 'Summer sale', destinationUrlTemplate: 'https://shop.example/s?cid={click_id}&m={message_id}',
      defaultPayout: { currencyCode: 'eur', amountMicros: '19990000' }, clickWindowDays: 30, minConversionSeconds: 45, viewThroughWindowDays: 7,
    });
    clock.advance(60_000);
    await client.upsertOffer({ offerId: 'plain', name: 'Plain', destinationUrlTemplate: 'https://shop.example/p?c={click_id}', defaultPayout: { currencyCode: 'USD', amountMicros: '0' } });

    expect((await client.getOffer({ offerId: 'summer-sale' })).offer).toEqual({
      offerId: 'summer-sale',
      name: 'Summer sale',
      destinationUrlTemplate: 'https://shop.example/s?cid={click_id}&m={message_id}',
      defaultPayout: { currencyCode: 'EUR', amountMicros: '19990000' },
      clickWindowDays: 30,
      minConversionSeconds: 45,
      viewThroughWindowDays: 7,
      updatedAt: new Date('2026-11-20T09:00:00Z'),
    });
    const plain = (await client.getOffer({ offerId: 'plain' })).offer!;
    expect(plain).toMatchObject({ defaultPayout: { currencyCode: 'USD', amountMicros: '0' }, updatedAt: new Date('2026-11-20T09:01:00Z') });
    expect([plain.clickWindowDays, plain.minConversionSeconds, plain.viewThroughWindowDays]).toEqual([undefined, undefined, undefined]);
  });

  it('answers NOT_FOUND for an unknown id and INVALID_ARGUMENT for a malformed one', async () => {
    for (const call of [client.getOffer({ offerId: 'nope' }), client.getCreative({ creativeId: 'nope' }), client.getCampaign({ campaignId: 'nope' })]) {
      expect((await failure(call))?.code).toBe(status.NOT_FOUND);
    }
    const bad = await failure(client.getOffer({ offerId: 'bad id!' }));
    expect(bad?.code).toBe(status.INVALID_ARGUMENT);
    expect(bad?.details).toMatch(/offer_id/);
  });

  it('pages offers, creatives and campaigns in id order with opaque tokens, the last page with none', async () => {
    for (const id of ['c-05', 'c-01', 'c-03', 'c-04', 'c-02', 'c-07', 'c-06']) {
      await client.upsertCreative({ creativeId: id, name: `Creative ${id}` });
      await client.upsertCampaign({ campaignId: id, name: `Campaign ${id}` });
    }
    for (const [list, idOf] of [
      [(pageSize: number, pageToken: string) => client.listCreatives({ pageSize, pageToken }).then((r) => ({ ids: r.creatives.map((c) => c.creativeId), next: r.nextPageToken })), 'creatives'],
      [(pageSize: number, pageToken: string) => client.listCampaigns({ pageSize, pageToken }).then((r) => ({ ids: r.campaigns.map((c) => c.campaignId), next: r.nextPageToken })), 'campaigns'],
    ] as const) {
      const pages: string[][] = [];
      let token = '';
      do {
        const page = await list(3, token);
        pages.push(page.ids);
        token = page.next;
      } while (token);
      expect([idOf, pages]).toEqual([idOf, [['c-01', 'c-02', 'c-03'], ['c-04', 'c-05', 'c-06'], ['c-07']]]);
    }
    const campaign = (await client.getCampaign({ campaignId: 'c-03' })).campaign!;
    expect(campaign).toEqual({ campaignId: 'c-03', name: 'Campaign c-03', updatedAt: clock.now() });
    expect((await client.getCreative({ creativeId: 'c-07' })).creative!.name).toBe('Creative c-07');

    const offers = await client.listOffers({ pageSize: 0, pageToken: '' });
    expect(offers.offers.map((o) => o.offerId)).toEqual(['plain', 'summer-sale']);
    expect(offers.offers[1].viewThroughWindowDays).toBe(7);
    expect(offers.nextPageToken).toBe('');
  });

  it('keeps a page stable when rows are added before its cursor meanwhile', async () => {
    const first = await client.listCampaigns({ pageSize: 4, pageToken: '' });
    expect(first.campaigns.map((c) => c.campaignId)).toEqual(['c-01', 'c-02', 'c-03', 'c-04']);
    await client.upsertCampaign({ campaignId: 'c-00', name: 'Added while paging' });
    const second = await client.listCampaigns({ pageSize: 4, pageToken: first.nextPageToken });
    expect(second.campaigns.map((c) => c.campaignId)).toEqual(['c-05', 'c-06', 'c-07']);
    expect(second.nextPageToken).toBe('');
  });

  it('refuses a token of another list, a forged token and an out-of-range page size', async () => {
    const creatives = await client.listCreatives({ pageSize: 2, pageToken: '' });
    const crossed = await failure(client.listCampaigns({ pageSize: 2, pageToken: creatives.nextPageToken }));
    expect(crossed?.code).toBe(status.INVALID_ARGUMENT);
    expect(crossed?.details).toMatch(/page_token is not a token from a previous ListCampaigns response/);
    expect((await failure(client.listOffers({ pageSize: 2, pageToken: 'forged' })))?.code).toBe(status.INVALID_ARGUMENT);
    const tooMany = await failure(client.listOffers({ pageSize: 501, pageToken: '' }));
    expect(tooMany?.code).toBe(status.INVALID_ARGUMENT);
    expect(tooMany?.details).toMatch(/page_size/);
  });
});
