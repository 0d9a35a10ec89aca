/**
 * A figure that does not apply to its row, shown as "—" with the reason on hover and to screen readers: sends and
 * taps have no partner, so a report grouped or filtered by partner has no send- or tap-based figure (docs/reports.md).
 * Never a 0, which would read as measured.
 */
export const NOT_APPLICABLE_CSV = 'n/a';
export const PARTNER_NOT_APPLICABLE = 'Not applicable: sends and taps have no partner, so this figure has no meaning when grouped or filtered by partner';

export function NotApplicable({ why = PARTNER_NOT_APPLICABLE }: { why?: string }) {
  return (
    // Read out as "not applicable", the reason as its description (title); the dash is only what the eye sees.
    <span className="muted not-applicable" role="img" aria-label="not applicable" title={why}>
      —
    </span>
  );
}
