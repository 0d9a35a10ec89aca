import { Controller, Get, Header, Param } from '@nestjs/common';
import { Grant, RequireScope } from '../auth/api-key.guard';
import type { ApiKeyGrant } from '../domain/api-keys';
import { ConversionsService } from './conversions.service';

@Controller('api/conversions')
@RequireScope('conversions:read')
export class ConversionsHttpController {
  constructor(private readonly conversions: ConversionsService) {}

  /** One conversion with its attribution and a diagnosis: did the click id match, in the window, already credited? */
  @Get(':partnerId/:conversionId')
  @Header('Cache-Control', 'no-store')
  get(@Param('partnerId') partnerId: string, @Param('conversionId') conversionId: string, @Grant() grant?: ApiKeyGrant) {
    return this.conversions.troubleshoot(partnerId, conversionId, grant);
  }
}
