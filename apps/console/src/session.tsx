import { createContext, ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, apiKey } from './api';
import { addDays, localDay } from './format';

/** What the key may do (GET /api/me). */
export interface Me {
  name: string | null;
  open: boolean;
  scopes: string[];
  campaigns: string[];
  offers: string[];
}

export interface Settings {
  from: string;
  to: string;
  timeZone: string;
}

interface Session {
  me: Me | undefined;
  /** True while the key is being checked. */
  checking: boolean;
  /** Set when the gateway refused the key (or asked for one). */
  keyError: ApiError | undefined;
  can(scope: string): boolean;
  signIn(key: string): void;
  signOut(): void;
  settings: Settings;
  setSettings(s: Partial<Settings>): void;
  /** Tokens shown in this tab (partner → token), kept in memory only: see Partners. */
  tokens: Map<string, string>;
}

const SessionContext = createContext<Session | null>(null);
const SETTINGS = 'trackly.settings';

function initialSettings(): Settings {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const saved = (() => {
    try {
      return JSON.parse(sessionStorage.getItem(SETTINGS) ?? '{}') as Partial<Settings>;
    } catch {
      return {};
    }
  })();
  const url = new URLSearchParams(location.search);
  const timeZone = url.get('tz') ?? saved.timeZone ?? tz;
  const to = url.get('to') ?? saved.to ?? localDay(new Date(), timeZone);
  const from = url.get('from') ?? saved.from ?? addDays(to, -29);
  return { from, to, timeZone };
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [keyVersion, setKeyVersion] = useState(0);
  const [settings, set] = useState<Settings>(initialSettings);
  const [tokens] = useState(() => new Map<string, string>());
  const me = useQuery<Me, ApiError>({ queryKey: ['me', keyVersion], queryFn: () => api<Me>('/api/me'), retry: false, staleTime: Infinity });

  const signIn = useCallback(
    (key: string) => {
      apiKey.set(key.trim());
      client.clear();
      setKeyVersion((v) => v + 1);
    },
    [client],
  );
  const signOut = useCallback(() => signIn(''), [signIn]);
  const setSettings = useCallback((s: Partial<Settings>) => {
    set((old) => {
      const next = { ...old, ...s };
      sessionStorage.setItem(SETTINGS, JSON.stringify(next));
      return next;
    });
  }, []);

  const value = useMemo<Session>(
    () => ({
      me: me.data,
      checking: me.isPending,
      keyError: me.error ?? undefined,
      can: (scope: string) => !!me.data?.scopes.includes(scope),
      signIn,
      signOut,
      settings,
      setSettings,
      tokens,
    }),
    [me.data, me.isPending, me.error, signIn, signOut, settings, setSettings, tokens],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
