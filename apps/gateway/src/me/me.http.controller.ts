import { Controller, Get, Header } from '@nestjs/common';
import { AnyKey, Grant } from '../auth/api-key.guard';
import { ApiKeyGrant, describeGrant } from '../domain/api-keys';

/** What the presented key may do (the console shows it and offers only those actions). */
@Controller('api/me')
export class MeHttpController {
  @Get()
  @AnyKey()
  @Header('Cache-Control', 'no-store')
  me(@Grant() grant?: ApiKeyGrant) {
    return describeGrant(grant);
  }
}
