import { Controller, ForbiddenException, Get, Header, Inject, Query } from '@nestjs/common';
import { InvalidArgumentError } from '@trackly/kernel';
import { ListContactsResponse, ListMessagesResponse } from '@trackly/contracts/reporting/v1/reporting_service';
import { Grant, RequireScope } from '../auth/api-key.guard';
import { ApiKeyGrant } from '../domain/api-keys';
import { apiJson } from '../domain/money-json';
import { rejectUnknownParams } from '../domain/performance-query';
import type { ReportingClient } from '../downstream/downstream.providers';
import { REPORTING_CLIENT } from '../gateway.tokens';

type QueryValue = string | string[] | undefined;
const MESSAGE_PARAMS = ['campaign', 'creative', 'page_size', 'page_token'] as const;
const CONTACT_PARAMS = ['campaign', 'search', 'page_size', 'page_token'] as const;

/**
 * Lists to find what the guide says to "click on" without knowing an id: messages (by campaign/creative, with
 * clicked/converted/revenue) and contacts (by campaign, searched by id prefix, with messages/engagements/conversions/
 * revenue), both paged. One message and one contact's journey are served under /api/reports.
 */
@Controller('api')
@RequireScope('reports:read')
export class MessagesHttpController {
  constructor(@Inject(REPORTING_CLIENT) private readonly reporting: ReportingClient) {}

  @Get('messages')
  @Header('Cache-Control', 'no-store')
  async messages(@Query() query: Record<string, QueryValue>, @Grant() grant?: ApiKeyGrant) {
    const q = listQuery(query, MESSAGE_PARAMS, grant, 'messages');
    const page = await this.reporting.listMessages({ campaignId: q.campaignId, creativeId: q.one('creative'), pageSize: q.pageSize, pageToken: q.one('page_token') });
    return apiJson(ListMessagesResponse, page);
  }

  @Get('contacts')
  @Header('Cache-Control', 'no-store')
  async contacts(@Query() query: Record<string, QueryValue>, @Grant() grant?: ApiKeyGrant) {
    const q = listQuery(query, CONTACT_PARAMS, grant, 'contacts');
    const page = await this.reporting.listContacts({
      campaignId: q.campaignId, contactIdPrefix: q.one('search'), pageSize: q.pageSize, pageToken: q.one('page_token'),
    });
    return apiJson(ListContactsResponse, page);
  }
}

/** The query of a list: known parameters only, each at most once, page_size a number, and the key's campaign scope. */
function listQuery<P extends string>(
  query: Record<string, QueryValue>,
  params: readonly P[],
  grant: ApiKeyGrant | undefined,
  what: string,
): { one: (name: P) => string; campaignId: string; pageSize: number } {
  rejectUnknownParams(query, params);
  const one = (name: P): string => {
    const v = query[name];
    if (v !== undefined && typeof v !== 'string') throw InvalidArgumentError.of({ [name]: 'must be given once' });
    return (v ?? '').trim();
  };
  const campaignId = one('campaign' as P);
  const sizeText = one('page_size' as P);
  if (sizeText && !/^\d{1,3}$/.test(sizeText)) throw InvalidArgumentError.of({ page_size: 'must be a whole number 1-200' });
  // A key restricted to campaigns lists one of its campaigns at a time; one restricted to offers cannot list these.
  if (grant?.offers.length) throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: `this API key is restricted to offers: list ${what} by campaign with another key` });
  if (grant?.campaigns.length && !grant.campaigns.includes(campaignId)) {
    throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: `this API key may list ${what} of campaign ${grant.campaigns.join(', ')} only (campaign=…)` });
  }
  return { one, campaignId, pageSize: Number(sizeText || 0) };
}
