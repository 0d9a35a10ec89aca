import { Body, Controller, Get, Header, Inject, Param, Put, Query } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import { GrpcCallError } from '@trackly/grpc';
import { assertId, InvalidArgumentError, normaliseCurrency, NotFoundError, parseDecimalMicros } from '@trackly/kernel';
import { Offer } from '@trackly/contracts/tracking/v1/tracking';
import { Grant, RequireScope } from '../auth/api-key.guard';
import type { ApiKeyGrant } from '../domain/api-keys';
import { BodyReader } from '../domain/body';
import { apiJson } from '../domain/money-json';
import { rejectUnknownParams } from '../domain/performance-query';
import type { TrackingClient } from '../downstream/downstream.providers';
import { TRACKING_CLIENT } from '../gateway.tokens';

/**
 * The offer catalog: list and read (tracking's ListOffers/GetOffer) and edit (UpsertOffer: window, minimum time, view
 * window, default payout and currency, destination). A key restricted to offers reads only those; a key restricted to
 * campaigns only reads the catalog (offers are not campaign data).
 */
@Controller('api/offers')
export class OffersHttpController {
  constructor(@Inject(TRACKING_CLIENT) private readonly tracking: TrackingClient) {}

  /** One page of offers in id order (`page_size` 1..500, default 50; `page_token` from the previous page). */
  @Get()
  @RequireScope('offers:read')
  async list(@Query() query: Record<string, unknown>, @Grant() grant?: ApiKeyGrant) {
    rejectUnknownParams(query, ['page_size', 'page_token']);
    const size = query.page_size;
    const token = query.page_token;
    const errors: Record<string, string> = {};
    if (size !== undefined && (typeof size !== 'string' || !/^\d{1,3}$/.test(size) || +size < 1 || +size > 500)) errors.page_size = 'must be a whole number from 1 to 500';
    if (token !== undefined && typeof token !== 'string') errors.page_token = 'must be given once';
    if (Object.keys(errors).length) throw InvalidArgumentError.of(errors);
    if (grant?.offers.length) {
      // A key restricted to offers: exactly its offers (at most a few), read one by one, no paging.
      const offers = await Promise.all(grant.offers.map((id) => this.tracking.getOffer({ offerId: id }).then((r) => r.offer ?? null, notFoundIsNull)));
      return { offers: offers.filter((o): o is Offer => !!o).map((o) => apiJson(Offer, o)), nextPageToken: '' };
    }
    const page = await this.tracking.listOffers({ pageSize: size ? Number(size) : 50, pageToken: (token as string | undefined) ?? '' });
    return { offers: page.offers.map((o) => apiJson(Offer, o)), nextPageToken: page.nextPageToken };
  }

  @Get(':offerId')
  @RequireScope('offers:read')
  async get(@Param('offerId') offerId: string, @Grant() grant?: ApiKeyGrant) {
    assertId(offerId, 'offer_id');
    // Outside a key's offers answers 404, as an unknown id does (no probing what exists).
    if (grant?.offers.length && !grant.offers.includes(offerId)) throw new NotFoundError('offer', offerId);
    const offer = await this.tracking.getOffer({ offerId }).then((r) => r.offer ?? null, notFoundIsNull);
    if (!offer) throw new NotFoundError('offer', offerId);
    return { offer: apiJson(Offer, offer) };
  }

  /** Replaces the offer's terms (every field: what is left out is unset, as UpsertOffer does). */
  @Put(':offerId')
  @RequireScope('offers:write')
  @Header('Cache-Control', 'no-store')
  async upsert(@Param('offerId') offerId: string, @Body() body: unknown) {
    assertId(offerId, 'offer_id');
    const r = new BodyReader(body, ['name', 'destination_url_template', 'default_payout', 'currency', 'click_window_days', 'min_conversion_seconds', 'view_through_window_days']);
    const name = r.text('name', { required: true, max: 200 });
    const destination = r.text('destination_url_template', { required: true, max: 2048 });
    const payoutText = r.text('default_payout', { required: true, max: 32 });
    const currencyText = r.text('currency', { required: true, max: 8 });
    const clickWindowDays = r.int('click_window_days', 1, 365);
    const minConversionSeconds = r.int('min_conversion_seconds', 0, 86_400);
    const viewThroughWindowDays = r.int('view_through_window_days', 1, 90);
    let micros = 0n;
    let currency = '';
    const field = (name: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        r.errors[name] = (e as { fields?: Record<string, string> }).fields?.[name] ?? (e as Error).message;
      }
    };
    if (payoutText) field('default_payout', () => (micros = parseDecimalMicros(payoutText, { field: 'default_payout' })));
    if (currencyText) field('currency', () => (currency = normaliseCurrency(currencyText, 'currency')));
    r.done();
    const res = await this.tracking.upsertOffer({
      offerId, name, destinationUrlTemplate: destination, defaultPayout: { currencyCode: currency, amountMicros: micros.toString() },
      clickWindowDays, minConversionSeconds, viewThroughWindowDays,
    });
    return { offer: apiJson(Offer, res.offer!), created: res.created };
  }
}

function notFoundIsNull(e: unknown): null {
  if (e instanceof GrpcCallError && e.code === status.NOT_FOUND) return null;
  throw e;
}
