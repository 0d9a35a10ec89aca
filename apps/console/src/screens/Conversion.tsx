import { Page } from '../App';
import { MessageLink } from '../components/Links';
import { MoneyList } from '../components/Money';
import { Status } from '../components/Status';
import { Table } from '../components/Table';
import { formatInstant, Money } from '../format';
import { useApi } from '../load';
import { useSession } from '../session';
import { Conversion, short } from './Conversions';

interface Candidate {
  clickId: string;
  messageId?: string;
  clickedAt?: string;
  clickClass?: string;
  inWindow?: boolean;
  credited?: boolean;
  note?: string;
}

interface Explained {
  conversion: Conversion;
  attribution: null | { outcome?: string; type?: string; reason?: string; messageId?: string; offerId?: string; campaignId?: string; creativeId?: string; payout?: Money; explanation?: string; ruleVersion?: string };
  diagnosis: {
    outcome: string;
    clickIdMatched: boolean | null;
    humanClick: boolean | null;
    clickInWindow: boolean | null;
    alreadyAttributed: boolean;
    creditedTo: string | null;
    reason: string | null;
    explanation: string | null;
  };
  explain: null | {
    matchedClick?: Candidate;
    candidateClicks?: Candidate[];
    windowDays?: number;
    windowSource?: string;
    windowFrom?: string;
    windowTo?: string;
    rule?: string;
    ruleVersion?: string;
    minConversionSeconds?: number;
    viewThroughWindowDays?: number;
    history?: string[];
  };
}

const SOURCE: Record<string, string> = { WINDOW_SOURCE_OFFER: "the offer's own window", WINDOW_SOURCE_DEFAULT: 'the platform default (90 days)' };

/** One conversion explained: the checklist, the candidate clicks on a timeline, window and rule, its history. */
export default function ConversionScreen({ partner, id }: { partner: string; id: string }) {
  const { settings } = useSession();
  const tz = settings.timeZone;
  const q = useApi<Explained>(['conversion', partner, id], `/api/conversions/${encodeURIComponent(partner)}/${encodeURIComponent(id)}`);
  const x = q.data;
  return (
    <Page title={`Conversion ${partner} / ${id}`} actions={<button type="button" onClick={() => q.refetch()} disabled={q.isFetching}>{q.isFetching ? 'Refreshing…' : 'Refresh'}</button>}>
      <Status pending={q.isPending} error={q.error}>
        {x && (
          <>
            <section className={`card verdict verdict-${x.diagnosis.outcome.toLowerCase()}`} aria-labelledby="verdict-title">
              <h2 id="verdict-title">
                {x.diagnosis.outcome === 'ATTRIBUTED'
                  ? `Credited to message ${x.diagnosis.creditedTo ?? ''}`
                  : x.diagnosis.outcome === 'PENDING'
                    ? 'Not decided yet'
                    : `Not credited: ${x.diagnosis.reason ?? 'no reason given'}`}
              </h2>
              {x.diagnosis.explanation && <p className="explanation">{x.diagnosis.explanation}</p>}
              <ul className="checklist" aria-label="Troubleshooting checklist">
                <Check label="Did the click id match a recorded click?" answer={x.diagnosis.clickIdMatched} />
                <Check label="Was it a person's click (not a link preview or bot)?" answer={x.diagnosis.humanClick} />
                <Check label="Was the click inside the window?" answer={x.diagnosis.clickInWindow} />
                <Check
                  label={x.diagnosis.outcome === 'ATTRIBUTED' ? 'Is it credited (once)?' : 'Was the sale already credited?'}
                  answer={x.diagnosis.alreadyAttributed}
                  note={x.diagnosis.reason === 'DUPLICATE' ? `yes, under another conversion of the same sale (message ${x.diagnosis.creditedTo ?? '?'})` : undefined}
                />
              </ul>
            </section>
            <dl className="facts card">
              <dt>Partner status</dt>
              <dd>{short(x.conversion.status, 'CONVERSION_STATUS_')}</dd>
              <dt>Payout</dt>
              <dd>
                <MoneyList items={[x.conversion.payout]} />
              </dd>
              <dt>Occurred · received</dt>
              <dd>
                {formatInstant(x.conversion.occurredAt, tz)} · {formatInstant(x.conversion.receivedAt, tz)}
              </dd>
              <dt>Reported click id</dt>
              <dd>
                <code>{x.conversion.clickId || '(none)'}</code>
              </dd>
              {x.attribution?.messageId && (
                <>
                  <dt>Message · offer · campaign</dt>
                  <dd>
                    <MessageLink id={x.attribution.messageId} /> · {x.attribution.offerId} · {x.attribution.campaignId}
                  </dd>
                </>
              )}
              {x.explain && (
                <>
                  <dt>Rule</dt>
                  <dd>
                    {x.explain.rule} <span className="muted">({x.explain.ruleVersion})</span>
                  </dd>
                  <dt>Window</dt>
                  <dd>
                    {x.explain.windowDays ? `${x.explain.windowDays} days, ${SOURCE[x.explain.windowSource ?? ''] ?? 'no window applied'}` : 'no window applied'}
                    {x.explain.windowFrom && (
                      <>
                        {' '}
                        — clicks from {formatInstant(x.explain.windowFrom, tz)} to {formatInstant(x.explain.windowTo, tz)}
                      </>
                    )}
                    {x.explain.minConversionSeconds !== undefined && <> · minimum {x.explain.minConversionSeconds} s after the click</>}
                    {x.explain.viewThroughWindowDays !== undefined && <> · view-through {x.explain.viewThroughWindowDays} days</>}
                  </dd>
                </>
              )}
            </dl>
            {x.explain && (
              <section className="card" aria-labelledby="clicks-title">
                <h2 id="clicks-title">Candidate clicks</h2>
                <Timeline explain={x.explain} conversionAt={x.conversion.occurredAt} timeZone={tz} />
                <Status empty={!x.explain.candidateClicks?.length} emptyText="The contact has no click on this offer.">
                  <Table label="Candidate clicks" headings={['Click', 'When', 'Class', 'In window', 'Credited', 'Why']}>
                        {(x.explain.candidateClicks ?? []).map((c) => (
                          <tr key={c.clickId} className={c.credited ? 'credited' : undefined}>
                            <td>
                              <code>{c.clickId}</code>
                              {c.messageId && (
                                <>
                                  {' '}
                                  (<MessageLink id={c.messageId} />)
                                </>
                              )}
                            </td>
                            <td>{formatInstant(c.clickedAt, tz)}</td>
                            <td>{(c.clickClass ?? 'HUMAN').toLowerCase()}</td>
                            <td>{c.inWindow ? 'yes' : 'no'}</td>
                            <td>{c.credited ? 'yes' : 'no'}</td>
                            <td>{c.note}</td>
                          </tr>
                        ))}
                  </Table>
                </Status>
              </section>
            )}
            <section className="card" aria-labelledby="history-title">
              <h2 id="history-title">History</h2>
              <Status empty={!x.explain?.history?.length} emptyText="No decision yet: attribution decides within seconds of the postback.">
                <ol className="history">
                  {(x.explain?.history ?? []).map((h, i) => (
                    <li key={i}>{h}</li>
                  ))}
                </ol>
              </Status>
            </section>
          </>
        )}
      </Status>
    </Page>
  );
}

function Check({ label, answer, note }: { label: string; answer: boolean | null; note?: string }) {
  const text = answer === null ? 'cannot tell' : answer ? 'yes' : 'no';
  return (
    <li className={`check check-${text.replace(' ', '-')}`}>
      <span className="check-answer">{text}</span> {label}
      {note && <span className="muted"> — {note}</span>}
    </li>
  );
}

/** The candidate clicks on a time axis, the window shaded, the conversion marked; drawn as SVG from the trace. */
function Timeline({ explain, conversionAt, timeZone }: { explain: NonNullable<Explained['explain']>; conversionAt?: string; timeZone: string }) {
  const clicks = (explain.candidateClicks ?? []).filter((c) => c.clickedAt);
  const times = [...clicks.map((c) => Date.parse(c.clickedAt!)), ...(conversionAt ? [Date.parse(conversionAt)] : []), ...(explain.windowFrom ? [Date.parse(explain.windowFrom)] : [])];
  if (times.length < 2) return null;
  const min = Math.min(...times);
  const max = Math.max(...times);
  const span = Math.max(max - min, 60_000);
  const W = 800;
  const x = (t: number) => 20 + ((t - min) / span) * (W - 40);
  const color = (c: Candidate) => (c.credited ? '#15803d' : c.clickClass && c.clickClass !== 'HUMAN' ? '#b45309' : '#1d4ed8');
  return (
    <figure className="timeline">
      <svg viewBox={`0 0 ${W} 90`} role="img" aria-label={`Timeline of ${clicks.length} candidate clicks and the conversion`}>
        {explain.windowFrom && explain.windowTo && (
          <rect x={x(Date.parse(explain.windowFrom))} y={10} width={Math.max(2, x(Date.parse(explain.windowTo)) - x(Date.parse(explain.windowFrom)))} height={50} fill="#dbeafe">
            <title>Window: {explain.windowDays} days</title>
          </rect>
        )}
        <line x1={20} x2={W - 20} y1={60} y2={60} stroke="#6b7280" />
        {clicks.map((c, i) => (
          <g key={c.clickId}>
            <circle cx={x(Date.parse(c.clickedAt!))} cy={35 - (i % 3) * 8} r={c.credited ? 8 : 6} fill={color(c)}>
              <title>
                {c.clickId} · {(c.clickClass ?? 'HUMAN').toLowerCase()} · {formatInstant(c.clickedAt, timeZone)}
                {c.credited ? ' · credited' : ''}
              </title>
            </circle>
          </g>
        ))}
        {conversionAt && (
          <g>
            <line x1={x(Date.parse(conversionAt))} x2={x(Date.parse(conversionAt))} y1={5} y2={70} stroke="#111827" strokeWidth={2} strokeDasharray="4 3" />
            <text x={Math.min(x(Date.parse(conversionAt)) + 4, W - 90)} y={84} fontSize="12" fill="#111827">
              conversion
            </text>
          </g>
        )}
        <text x={20} y={84} fontSize="12" fill="#374151">
          {formatInstant(new Date(min).toISOString(), timeZone)}
        </text>
      </svg>
      <figcaption className="muted">
        <span className="dot dot-credited" /> credited <span className="dot dot-human" /> person <span className="dot dot-bot" /> preview or bot · shaded: the window
      </figcaption>
    </figure>
  );
}
