import { Controller, Get, Header, Param, Query } from '@nestjs/common';
import { Grant, RequireScope } from '../auth/api-key.guard';
import type { ApiKeyGrant } from '../domain/api-keys';
import { ConversionsService, ListQuery } from './conversions.service';

@Controller('api/conversions')
@RequireScope('conversions:read')
export class ConversionsHttpController {
  constructor(private readonly conversions: ConversionsService) {}

  /** Conversions newest first, filtered by partner, outcome, partner status and reason; paged. */
  @Get()
  @Header('Cache-Control', 'no-store')
  list(@Query() query: ListQuery, @Grant() grant?: ApiKeyGrant) {
    return this.conversions.list(query, grant);
  }

  /** One conversion explained: attribution, trace (candidate clicks, window, rule, history) and the checklist. */
  @Get(':partnerId/:conversionId')
  @Header('Cache-Control', 'no-store')
  get(@Param('partnerId') partnerId: string, @Param('conversionId') conversionId: string, @Grant() grant?: ApiKeyGrant) {
    return this.conversions.troubleshoot(partnerId, conversionId, grant);
  }
}
