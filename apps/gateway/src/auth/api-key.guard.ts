import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { ApiKeyGrant, findGrant, hasScope, presentedKeys, Scope } from '../domain/api-keys';
import type { GatewayConfig } from '../gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';

const PUBLIC_ROUTE = 'trackly.gateway.publicRoute';
const REQUIRED_SCOPE = 'trackly.gateway.requiredScope';
const ANY_KEY = 'trackly.gateway.anyKey';

/** Marks a controller or handler as open without an API key (the probes, the page, the API document). */
export const PublicRoute = () => SetMetadata(PUBLIC_ROUTE, true);

/** The scope a route needs; every non-public route must name one (a route without is refused to every key). */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);

/** A route any configured key may call, whatever its scopes (the key's own description, GET /api/me). */
export const AnyKey = () => SetMetadata(ANY_KEY, true);

type GrantedRequest = Request & { apiKeyGrant?: ApiKeyGrant };

/** The grant of the key that authenticated the request; undefined when no keys are configured (development). */
export const Grant = createParamDecorator((_: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<GrantedRequest>().apiKeyGrant);

/**
 * Global guard: a route needs a configured key (Bearer token or X-API-Key) that grants the route's scope, unless
 * marked @PublicRoute(). No key or an unknown one: 401; a known key without the scope: 403. With no key
 * configured everything is open (allowed in development only; the gateway warns at start).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly grants: ApiKeyGrant[];

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly reflector: Reflector,
  ) {
    this.grants = config.GATEWAY_API_KEYS;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.grants.length === 0) return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const http = context.switchToHttp();
    const req = http.getRequest<GrantedRequest>();
    const grant = findGrant(presentedKeys(req.headers), this.grants);
    if (!grant) {
      http.getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer realm="trackly"');
      throw new UnauthorizedException({
        error: 'UNAUTHENTICATED',
        message: 'a valid API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
      });
    }
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    if (!scope && this.reflector.getAllAndOverride<boolean>(ANY_KEY, targets)) {
      req.apiKeyGrant = grant;
      return true;
    }
    if (!scope || !hasScope(grant, scope)) {
      throw new ForbiddenException({
        error: 'PERMISSION_DENIED',
        message: scope ? `this API key does not grant the scope "${scope}"` : 'this route is not open to API keys',
      });
    }
    req.apiKeyGrant = grant;
    return true;
  }
}
