import { Inject, Injectable } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { GatewayConfig } from '../gateway.config';
import { GATEWAY_CONFIG } from '../gateway.tokens';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

export interface ConsoleFile {
  body: Buffer;
  /** The gzip-compressed body, for clients that accept it (text types only). */
  gzip?: Buffer;
  contentType: string;
}

/**
 * The console's built files (apps/console, built by Nx into dist/apps/console and copied beside the gateway's build),
 * read into memory once at start with a gzip copy of each text file. Only files of the build are served: a name is
 * looked up in this map, never joined to a path. Missing (the console not built) leaves the API working and the page
 * answering 503 with how to build it.
 */
@Injectable()
export class ConsoleAssets {
  readonly dir: string | undefined;
  private readonly files = new Map<string, ConsoleFile>();

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    const candidates = config.GATEWAY_CONSOLE_DIR
      ? [resolve(config.GATEWAY_CONSOLE_DIR)]
      : [resolve(__dirname, '../../../../console'), resolve(__dirname, '../../../../dist/apps/console')];
    this.dir = candidates.find((d) => existsSync(join(d, 'index.html')));
    if (this.dir) this.load(this.dir, this.dir);
  }

  /** A file by its URL path without the leading slash ("index.html", "assets/index-abc.js"). */
  get(name: string): ConsoleFile | undefined {
    return this.files.get(name);
  }

  private load(root: string, dir: string): void {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        this.load(root, path);
        continue;
      }
      const ext = extname(entry).toLowerCase();
      // Source maps and compressed copies are not served: the console's sources are in the repository.
      if (!Object.hasOwn(TYPES, ext)) continue;
      const body = readFileSync(path);
      this.files.set(relative(root, path).split(sep).join('/'), {
        body,
        gzip: COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined,
        contentType: TYPES[ext],
      });
    }
  }
}
