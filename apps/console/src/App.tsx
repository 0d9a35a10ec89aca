import { FormEvent, lazy, ReactNode, Suspense, useEffect, useId, useState } from 'react';
import { Link, Route, Switch, useLocation } from 'wouter';
import { Status } from './components/Status';
import { useSession } from './session';
import { OverviewScreen } from './screens/Overview';

// Every screen but the first is loaded when opened: the first load ships what the overview needs.
const PerformanceScreen = lazy(() => import('./screens/Performance'));
const MessagesScreen = lazy(() => import('./screens/Messages'));
const MessageScreen = lazy(() => import('./screens/Message'));
const ContactScreen = lazy(() => import('./screens/Contact'));
const ConversionsScreen = lazy(() => import('./screens/Conversions'));
const ConversionScreen = lazy(() => import('./screens/Conversion'));
const OffersScreen = lazy(() => import('./screens/Offers'));
const PartnersScreen = lazy(() => import('./screens/Partners'));
const PartnerScreen = lazy(() => import('./screens/Partner'));
const OperationsScreen = lazy(() => import('./screens/Operations'));
const WebhooksScreen = lazy(() => import('./screens/Webhooks'));

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/performance', 'Performance'],
  ['/messages', 'Messages & contacts'],
  ['/conversions', 'Conversions'],
  ['/offers', 'Offers'],
  ['/partners', 'Partners'],
  ['/operations', 'Operations'],
  ['/webhooks', 'Webhooks'],
];

const ZONES = ['UTC', 'America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'Europe/London', 'Europe/Paris', 'Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Tokyo', 'Australia/Sydney'];

export function App() {
  const session = useSession();
  const [location] = useLocation();
  const needKey = session.keyError?.status === 401;
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width="24" height="24" /> Trackly
        </div>
        <nav aria-label="Screens">
          <ul>
            {NAV.map(([href, label]) => {
              const active = href === '/' ? location === '/' : location.startsWith(href);
              return (
                <li key={href}>
                  <Link href={href} aria-current={active ? 'page' : undefined}>
                    {label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <KeyBadge />
      </header>
      {!needKey && session.me && <RangeBar />}
      <main id="main">
        {needKey ? (
          <KeyForm />
        ) : session.keyError ? (
          <Status error={session.keyError} />
        ) : (
          <Suspense fallback={<Status pending />}>
            <Switch>
              <Route path="/" component={OverviewScreen} />
              <Route path="/performance" component={PerformanceScreen} />
              <Route path="/messages" component={MessagesScreen} />
              <Route path="/messages/:id">{(p) => <MessageScreen id={p.id} />}</Route>
              <Route path="/contacts/:id">{(p) => <ContactScreen id={p.id} />}</Route>
              <Route path="/conversions" component={ConversionsScreen} />
              <Route path="/conversions/:partner/:id">{(p) => <ConversionScreen partner={p.partner} id={p.id} />}</Route>
              <Route path="/offers" component={OffersScreen} />
              <Route path="/partners" component={PartnersScreen} />
              <Route path="/partners/:id">{(p) => <PartnerScreen id={p.id} />}</Route>
              <Route path="/operations" component={OperationsScreen} />
              <Route path="/webhooks" component={WebhooksScreen} />
              <Route>
                <Page title="Page not found">
                  <p>
                    There is no screen at this address. <Link href="/">Go to the overview</Link>.
                  </p>
                </Page>
              </Route>
            </Switch>
          </Suspense>
        )}
      </main>
    </div>
  );
}

/** A screen: its title (the page's h1 and the tab's title) and its content. */
export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Trackly`;
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title">{title}</h1>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Shows a note instead of an action the key may not take (and says which scope it would need). */
export function NeedsScope({ scope, children }: { scope: string; children: ReactNode }) {
  const { can, checking } = useSession();
  if (checking) return <Status pending />;
  if (can(scope)) return <>{children}</>;
  return (
    <p className="status status-scope">
      Your API key does not grant <code>{scope}</code>: this action is not available to it.
    </p>
  );
}

function KeyBadge() {
  const { me, signOut } = useSession();
  if (!me) return null;
  return (
    <details className="key-badge">
      <summary>{me.open ? 'Open access (development)' : `Key: ${me.name}`}</summary>
      <div className="key-panel">
        <p>This key may:</p>
        <ul>
          {me.scopes.map((s) => (
            <li key={s}>
              <code>{s}</code>
            </li>
          ))}
        </ul>
        {(me.campaigns.length > 0 || me.offers.length > 0) && (
          <p>
            Only {me.campaigns.length > 0 && <>campaigns {me.campaigns.join(', ')}</>} {me.offers.length > 0 && <>offers {me.offers.join(', ')}</>}.
          </p>
        )}
        {!me.open && (
          <button type="button" onClick={signOut}>
            Use another key
          </button>
        )}
      </div>
    </details>
  );
}

function KeyForm() {
  const { signIn, keyError } = useSession();
  const [key, setKey] = useState('');
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn(key);
  };
  return (
    <Page title="Sign in with an API key">
      <form className="card form" onSubmit={submit}>
        <p>
          The console uses the gateway's API keys (ask your administrator, or mint one with <code>npm run gateway:key</code>). The key stays in this tab
          only.
        </p>
        <label htmlFor={id}>API key</label>
        <input id={id} type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} required />
        <button type="submit">Sign in</button>
        {keyError && keyError.message && !keyError.message.startsWith('a valid API key is required') && <Status error={keyError} />}
      </form>
    </Page>
  );
}

function RangeBar() {
  const { settings, setSettings } = useSession();
  const ids = { from: useId(), to: useId(), tz: useId() };
  const zones = ZONES.includes(settings.timeZone) ? ZONES : [settings.timeZone, ...ZONES];
  return (
    <form className="rangebar" aria-label="Date range and time zone" onSubmit={(e) => e.preventDefault()}>
      <label htmlFor={ids.from}>From</label>
      <input id={ids.from} type="date" value={settings.from} max={settings.to} onChange={(e) => e.target.value && setSettings({ from: e.target.value })} />
      <label htmlFor={ids.to}>To</label>
      <input id={ids.to} type="date" value={settings.to} min={settings.from} onChange={(e) => e.target.value && setSettings({ to: e.target.value })} />
      <label htmlFor={ids.tz}>Time zone</label>
      <select id={ids.tz} value={settings.timeZone} onChange={(e) => setSettings({ timeZone: e.target.value })}>
        {zones.map((z) => (
          <option key={z}>{z}</option>
        ))}
      </select>
    </form>
  );
}
