import type { ReactNode } from 'react';

/** A column heading: its text, or `num(text)` for a right-aligned numeric column. */
export type Heading = ReactNode | { label: ReactNode; num: true };
export const num = (label: ReactNode): Heading => ({ label, num: true });

const isNum = (h: Heading): h is { label: ReactNode; num: true } => typeof h === 'object' && h !== null && 'num' in h;

/** A plain table in its own scrolling region (reachable by keyboard, named for screen readers), with its headings. */
export function Table({ label, testId, caption, headings, children }: { label: string; testId?: string; caption?: ReactNode; headings: Heading[]; children: ReactNode }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
      <table data-testid={testId}>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            {headings.map((h, i) => (
              <th key={i} scope="col" className={isNum(h) ? 'num' : undefined}>
                {isNum(h) ? h.label : h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
