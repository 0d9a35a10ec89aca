import { Page } from '../App';
import { ContactLink, ConversionLink } from '../components/Links';
import { MoneyList } from '../components/Money';
import { Status } from '../components/Status';
import { formatCount, formatInstant, Money } from '../format';
import { useApi } from '../load';
import { useSession } from '../session';

interface MessageReport {
  messageId: string;
  contactId?: string;
  phoneMasked?: string;
  campaignId?: string;
  creativeId?: string;
  offerId?: string;
  sentAt?: string;
  clicked?: boolean;
  firstClickedAt?: string;
  clickCount?: string;
  clickTimes?: string[];
  conversions?: { partnerId: string; conversionId: string; clickId?: string; payout?: Money; occurredAt?: string; status?: string }[];
  revenue?: Money[];
}

/** One message: sent to whom, clicked? converted? revenue; every tap in time order. */
export default function MessageScreen({ id }: { id: string }) {
  const { settings } = useSession();
  const q = useApi<MessageReport>(['message', id], `/api/reports/messages/${encodeURIComponent(id)}`);
  const m = q.data;
  const tz = settings.timeZone;
  return (
    <Page title={`Message ${id}`}>
      <Status pending={q.isPending} error={q.error}>
        {m && (
          <>
            <dl className="facts card">
              <dt>Sent</dt>
              <dd>{formatInstant(m.sentAt, tz)}</dd>
              <dt>To</dt>
              <dd>
                {m.phoneMasked} (contact {m.contactId ? <ContactLink id={m.contactId} /> : '–'})
              </dd>
              <dt>Campaign · creative · offer</dt>
              <dd>
                {m.campaignId} · {m.creativeId} · {m.offerId}
              </dd>
              <dt>Clicked?</dt>
              <dd>{m.clicked ? `Yes, first at ${formatInstant(m.firstClickedAt, tz)} (${formatCount(m.clickCount)} taps)` : 'No'}</dd>
              <dt>Converted?</dt>
              <dd>{m.conversions?.length ? `Yes, ${m.conversions.length} conversion(s)` : 'No'}</dd>
              <dt>Approved revenue</dt>
              <dd>
                <MoneyList items={m.revenue ?? []} />
              </dd>
            </dl>
            <section className="card" aria-labelledby="taps-title">
              <h2 id="taps-title">Taps</h2>
              <p className="muted">
                The first person's tap is the engagement; later taps are tracked, not new engagements. Link previews and bots are never listed here.
              </p>
              <Status empty={!m.clickTimes?.length} emptyText="Nobody tapped the link.">
                <ol className="taps">
                  {(m.clickTimes ?? []).map((t, i) => (
                    <li key={`${t}-${i}`}>
                      {formatInstant(t, tz)} — <span className="badge">{i === 0 ? 'person · engagement' : 'person · repeat tap'}</span>
                    </li>
                  ))}
                </ol>
              </Status>
            </section>
            <section className="card" aria-labelledby="conv-title">
              <h2 id="conv-title">Conversions credited</h2>
              <Status empty={!m.conversions?.length} emptyText="No conversion is credited to this message.">
                <ul>
                  {(m.conversions ?? []).map((c) => (
                    <li key={`${c.partnerId}/${c.conversionId}`}>
                      <ConversionLink partnerId={c.partnerId} conversionId={c.conversionId} />{' '}
                      — {c.status}, <MoneyList items={[c.payout]} />, {formatInstant(c.occurredAt, tz)}
                    </li>
                  ))}
                </ul>
              </Status>
            </section>
          </>
        )}
      </Status>
    </Page>
  );
}
