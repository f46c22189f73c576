import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { session, type Session } from './session';
import { paths, patterns, root } from './routes';
import { SignIn, SignedIn } from './screens/SignIn';
import { CredentialList } from './screens/CredentialList';
import { DeletedCredentials } from './screens/DeletedCredentials';
import { CredentialForm } from './screens/CredentialForm';
import { Connected } from './screens/Connected';
import { useTitle } from './lib/useTitle';

function useSession(): Session | null {
  const [s, set] = useState(session.current);
  useEffect(() => session.subscribe(() => set(session.current())), []);
  return s;
}

/** `/` and `/console/` open the Credentials screen. */
function Home() {
  const { route } = useLocation();
  useEffect(() => route(paths.list, true), []);
  return null;
}

/** With a `<base href>`, `#main` would resolve against the API root: move focus instead. */
function SkipLink() {
  return (
    <a
      class="skip"
      href="#main"
      onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}
    >
      Skip to content
    </a>
  );
}

function Header({ who }: { who: Session }) {
  const { path } = useLocation();
  const current = (p: string) => (path === p ? 'page' : undefined);
  return (
    <header class="top">
      <a class="brand" href={paths.list}>
        Latchkey
      </a>
      <nav aria-label="Main">
        <a href={paths.list} aria-current={current(paths.list)}>
          Credentials
        </a>
        <a href={paths.deleted} aria-current={current(paths.deleted)}>
          Deleted
        </a>
      </nav>
      <span class="who">
        <span>
          Signed in as <strong>{who.user}</strong> · {who.org}
        </span>
        <button type="button" class="quiet" onClick={() => session.end()}>
          Sign out
        </button>
      </span>
    </header>
  );
}

function NotFound() {
  useTitle('Not found');
  return (
    <main id="main" tabIndex={-1}>
      <h1>Not found</h1>
      <p>
        There is no such page. <a href={paths.list}>Go to Credentials</a>.
      </p>
    </main>
  );
}

function Shell() {
  const who = useSession();
  const { path } = useLocation();
  // The end of an OAuth round trip reports its outcome whether or not this window is signed in.
  if (path === paths.connected) return <Connected />;
  // The end of the issuer's round trip: it starts the session.
  if (path === paths.signedIn) return <SignedIn />;
  if (!who) return <SignIn />;
  return (
    <>
      <Header who={who} />
      <Router>
        <Route path={root} component={Home} />
        <Route path={`${root}console`} component={Home} />
        <Route path={patterns.signIn} component={Home} />
        <Route path={patterns.list} component={CredentialList} />
        <Route path={patterns.deleted} component={DeletedCredentials} />
        <Route path={patterns.create} component={CredentialForm} />
        <Route path={patterns.edit} component={CredentialForm} />
        {/* The drawer and its dialogs are drawn over the list: one component, kept mounted. */}
        <Route path={patterns.share} component={CredentialList} overlay="share" />
        <Route path={patterns.remove} component={CredentialList} overlay="remove" />
        <Route path={patterns.credential} component={CredentialList} />
        <Route default component={NotFound} />
      </Router>
    </>
  );
}

export function App() {
  return (
    <LocationProvider scope={root}>
      <SkipLink />
      <Shell />
    </LocationProvider>
  );
}
