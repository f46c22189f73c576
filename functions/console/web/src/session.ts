// Who is signed in: the bearer token and its claims, kept in sessionStorage (this tab only,
// gone when it closes; never localStorage), so that a page reload or the OAuth round trip to a
// provider does not sign the person out.
const KEY = 'latchkey.session';

export interface Session {
  token: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  user: string;
  org: string;
  teams: string[];
  /** How the person signed in, to sign out the same way. */
  via: 'dev' | 'oidc';
}

type Listener = () => void;
const listeners = new Set<Listener>();

function read(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && s.expiresAt * 1000 > Date.now() ? s : null;
  } catch {
    return null;
  }
}

/** The claims of a JWT, without verifying it (the API does that). */
export function claims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(json) as Record<string, unknown>;
}

export const session = {
  current: read,
  token: () => read()?.token ?? null,
  start(token: string, via: Session['via']) {
    const c = claims(token);
    const teams = Array.isArray(c.teams) ? c.teams.map(String) : [];
    const s: Session = {
      token,
      expiresAt: Number(c.exp ?? 0),
      user: String(c.sub ?? ''),
      org: String(c.org_id ?? ''),
      teams,
      via,
    };
    sessionStorage.setItem(KEY, JSON.stringify(s));
    listeners.forEach((l) => l());
  },
  end() {
    sessionStorage.removeItem(KEY);
    listeners.forEach((l) => l());
  },
  /** The API said 401: forget the token; the app shows sign-in. */
  expired() {
    if (read()) this.end();
  },
  subscribe(l: Listener): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },
};
