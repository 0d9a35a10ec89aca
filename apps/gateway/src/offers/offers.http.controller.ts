import { Body, Controller, Get, Header, Inject, Param, Put } from '@nestjs/common';
import { assertId, normaliseCurrency, parseDecimalMicros } from '@trackly/kernel';
import { Offer } from '@trackly/contracts/tracking/v1/tracking';
import { Grant, RequireScope } from '../auth/api-key.guard';
import type { ApiKeyGrant } from '../domain/api-keys';
import { BodyReader } from '../domain/body';
import { apiJson } from '../domain/money-json';
import { WaitingForDownstream } from '../downstream/not-yet';
import type { TrackingClient } from '../downstream/downstream.providers';
import { TRACKING_CLIENT } from '../gateway.tokens';

/**
 * The offer catalog: list and read (waiting for tracking's ListOffers/GetOffer) and edit (UpsertOffer: window, minimum
 * time, view window, default payout and currency, destination). A restricted key reads only its offers.
 */
@Controller('api/offers')
export class OffersHttpController {
  constructor(@Inject(TRACKING_CLIENT) private readonly tracking: TrackingClient) {}

  @Get()
  @RequireScope('offers:read')
  list(@Grant() _grant?: ApiKeyGrant) {
    throw new WaitingForDownstream('TrackingService.ListOffers (issue 16, item 8)');
  }

  @Get(':offerId')
  @RequireScope('offers:read')
  get(@Param('offerId') _offerId: string, @Grant() _grant?: ApiKeyGrant) {
    throw new WaitingForDownstream('TrackingService.GetOffer (issue 16, item 8)');
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
