/** The gateway's HTTP API, from the same origin; the API key goes in X-API-Key. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

const KEY = 'trackly.apiKey';

export const apiKey = {
  get: (): string => sessionStorage.getItem(KEY) ?? '',
  set: (k: string) => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY)),
};

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = apiKey.get();
  return { accept: 'application/json', ...(key ? { 'x-api-key': key } : {}), ...extra };
}

async function errorOf(res: Response): Promise<ApiError> {
  let body: { error?: string; message?: string; fields?: Record<string, string> } = {};
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, body.error ?? `HTTP_${res.status}`, body.message ?? res.statusText, body.fields);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: headers(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

/** A query string from the non-empty values. */
export function qs(params: Record<string, string | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Uploads a file as the request body with progress (fetch has no upload progress; XMLHttpRequest does). */
export function upload<T>(path: string, file: Blob, onProgress: (sent: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers({ 'content-type': 'text/csv' }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total || file.size);
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload failed: the gateway could not be reached'));
    xhr.onload = () => {
      let body: { error?: string; message?: string; fields?: Record<string, string> } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T);
      else reject(new ApiError(xhr.status, body.error ?? `HTTP_${xhr.status}`, body.message ?? xhr.statusText, body.fields));
    };
    xhr.send(file);
  });
}
