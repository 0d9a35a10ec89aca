import { Controller, Get, Header } from '@nestjs/common';
import { PublicRoute } from '../auth/api-key.guard';
import { OPENAPI_DOCUMENT } from './openapi.document';

/** The API's OpenAPI document; open, like any API reference. */
@Controller('api')
@PublicRoute()
export class OpenApiHttpController {
  @Get('openapi.json')
  @Header('Cache-Control', 'no-cache')
  document() {
    return OPENAPI_DOCUMENT;
  }
}
