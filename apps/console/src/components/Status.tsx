import type { ReactNode } from 'react';
import { ApiError } from '../api';

/**
 * Loading, error and empty states, shown next to the control that caused them (never at the top of the page). An
 * error names the status and the gateway's message, and each field it refused.
 */
export function Status({ pending, error, empty, emptyText, children }: {
  pending?: boolean;
  error?: unknown;
  empty?: boolean;
  emptyText?: ReactNode;
  children?: ReactNode;
}) {
  if (pending) {
    return (
      <p className="status status-loading" role="status" aria-live="polite">
        <span className="spinner" aria-hidden="true" /> Loading…
      </p>
    );
  }
  if (error) return <ErrorNote error={error} />;
  if (empty) return <p className="status status-empty" role="status">{emptyText ?? 'Nothing here for these filters.'}</p>;
  return <>{children}</>;
}

export function ErrorNote({ error }: { error: unknown }) {
  const e = error instanceof ApiError ? error : undefined;
  const fields = e ? Object.entries(e.fields) : [];
  const waiting = e?.status === 501;
  return (
    <div className={waiting ? 'status status-waiting' : 'status status-error'} role="alert">
      <strong>{waiting ? 'Not available yet' : e ? `${e.status || 'Network'} ${e.error}` : 'Error'}</strong>: {e ? e.message : String(error)}
      {fields.length > 0 && (
        <ul>
          {fields.map(([f, m]) => (
            <li key={f}>
              <code>{f}</code> {m}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
