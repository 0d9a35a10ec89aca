import { Controller, ForbiddenException, Get, Header, Inject, Query } from '@nestjs/common';
import { InvalidArgumentError } from '@trackly/kernel';
import { ListMessagesResponse } from '@trackly/contracts/reporting/v1/reporting_service';
import { Grant, RequireScope } from '../auth/api-key.guard';
import { ApiKeyGrant } from '../domain/api-keys';
import { apiJson } from '../domain/money-json';
import { rejectUnknownParams } from '../domain/performance-query';
import { WaitingForDownstream } from '../downstream/not-yet';
import type { ReportingClient } from '../downstream/downstream.providers';
import { REPORTING_CLIENT } from '../gateway.tokens';

type QueryValue = string | string[] | undefined;
const MESSAGE_PARAMS = ['campaign', 'creative', 'page_size', 'page_token'] as const;

/**
 * Lists to find what the guide says to "click on" without knowing an id: messages (by campaign/creative, with
 * clicked/converted/revenue), paged; contacts wait for reporting's ListContacts. One message and one contact's
 * journey are served under /api/reports.
 */
@Controller('api')
@RequireScope('reports:read')
export class MessagesHttpController {
  constructor(@Inject(REPORTING_CLIENT) private readonly reporting: ReportingClient) {}

  @Get('messages')
  @Header('Cache-Control', 'no-store')
  async messages(@Query() query: Record<string, QueryValue>, @Grant() grant?: ApiKeyGrant) {
    rejectUnknownParams(query, MESSAGE_PARAMS);
    const one = (name: (typeof MESSAGE_PARAMS)[number]): string => {
      const v = query[name];
      if (v !== undefined && typeof v !== 'string') throw InvalidArgumentError.of({ [name]: 'must be given once' });
      return (v ?? '').trim();
    };
    const campaignId = one('campaign');
    const sizeText = one('page_size');
    if (sizeText && !/^\d{1,3}$/.test(sizeText)) throw InvalidArgumentError.of({ page_size: 'must be a whole number 1-200' });
    // A key restricted to campaigns lists one of its campaigns at a time; one restricted to offers cannot list messages.
    if (grant?.offers.length) throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: 'this API key is restricted to offers: list messages by campaign with another key' });
    if (grant?.campaigns.length && !grant.campaigns.includes(campaignId)) {
      throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: `this API key may list messages of campaign ${grant.campaigns.join(', ')} only (campaign=…)` });
    }
    const page = await this.reporting.listMessages({ campaignId, creativeId: one('creative'), pageSize: Number(sizeText || 0), pageToken: one('page_token') });
    return apiJson(ListMessagesResponse, page);
  }

  @Get('contacts')
  contacts() {
    throw new WaitingForDownstream('ReportingService.ListContacts (issue 16, item 8)');
  }
}
