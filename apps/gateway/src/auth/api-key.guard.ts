import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { digestKeys, isAuthorised, presentedKeys } from '../domain/api-keys';
import type { GatewayConfig } from '../gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';

const PUBLIC_ROUTE = 'trackly.gateway.publicRoute';

/** Marks a controller or handler as open without an API key (the probes). */
export const PublicRoute = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * Global guard: every route needs one of GATEWAY_API_KEYS (Bearer token or X-API-Key) unless marked @PublicRoute();
 * with no key configured everything is open (the gateway warns at start).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keyDigests: Buffer[];

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly reflector: Reflector,
  ) {
    this.keyDigests = digestKeys(config.GATEWAY_API_KEYS);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.keyDigests.length === 0) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const http = context.switchToHttp();
    if (isAuthorised(presentedKeys(http.getRequest<Request>().headers), this.keyDigests)) return true;
    http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="trackly"');
    throw new UnauthorizedException({
      error: 'UNAUTHENTICATED',
      message: 'a valid API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
    });
  }
}
