import type { useCursorPages } from '../load';

/** Previous / Next over cursor pages; Next is there when the last answer gave a next page token. */
export function Pager({ label, pages, next }: { label: string; pages: ReturnType<typeof useCursorPages>; next: string | undefined }) {
  const back = pages.back;
  const forward = pages.forward(next);
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={!back} onClick={back}>
        Previous
      </button>
      <span>Page {pages.page}</span>
      <button type="button" disabled={!forward} onClick={forward}>
        Next
      </button>
    </nav>
  );
}
