import { Page } from '../App';
import { MessageLink } from '../components/Links';
import { MoneyList } from '../components/Money';
import { Status } from '../components/Status';
import { formatCount, formatInstant, Money } from '../format';
import { useApi } from '../load';
import { useSession } from '../session';

interface Journey {
  contactId: string;
  messagesReceived?: string;
  clicks?: string;
  conversions?: string;
  totalRevenue?: Money[];
  events?: { kind: string; at?: string; messageId?: string; clickId?: string; offerId?: string; payout?: Money; conversionId?: string }[];
}

const KIND: Record<string, string> = {
  JOURNEY_EVENT_KIND_MESSAGE_SENT: 'Message sent',
  JOURNEY_EVENT_KIND_CLICK: 'Tapped the link',
  JOURNEY_EVENT_KIND_CONVERSION: 'Converted',
};

/** A contact's journey: messages, taps and conversions in time order, with totals. */
export default function ContactScreen({ id }: { id: string }) {
  const { settings } = useSession();
  const q = useApi<Journey>(['journey', id], `/api/reports/contacts/${encodeURIComponent(id)}/journey`);
  const j = q.data;
  return (
    <Page title={`Contact ${id}`}>
      <Status pending={q.isPending} error={q.error}>
        {j && (
          <>
            <dl className="facts card">
              <dt>Messages received</dt>
              <dd>{formatCount(j.messagesReceived)}</dd>
              <dt>Taps</dt>
              <dd>{formatCount(j.clicks)}</dd>
              <dt>Conversions</dt>
              <dd>{formatCount(j.conversions)}</dd>
              <dt>Approved revenue</dt>
              <dd>
                <MoneyList items={j.totalRevenue ?? []} />
              </dd>
            </dl>
            <section className="card" aria-labelledby="journey-title">
              <h2 id="journey-title">Journey</h2>
              <Status empty={!j.events?.length} emptyText="Nothing recorded for this contact.">
                <ol className="journey">
                  {(j.events ?? []).map((e, i) => (
                    <li key={i} className={`journey-${e.kind.replace('JOURNEY_EVENT_KIND_', '').toLowerCase()}`}>
                      <time dateTime={e.at}>{formatInstant(e.at, settings.timeZone)}</time> <strong>{KIND[e.kind] ?? e.kind}</strong>
                      {e.messageId && (
                        <>
                          {' '}
                          — message <MessageLink id={e.messageId} />
                        </>
                      )}
                      {e.offerId && <> · offer {e.offerId}</>}
                      {e.conversionId && <> · conversion {e.conversionId}</>}
                      {e.payout && (
                        <>
                          {' '}
                          · <MoneyList items={[e.payout]} />
                        </>
                      )}
                    </li>
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
