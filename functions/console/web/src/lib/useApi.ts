// Load, error and loading state for API calls, so that no screen repeats it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { toProblem, type Problem } from '../api/client';

export interface Loaded<T> {
  data: T | undefined;
  error: Problem | null;
  loading: boolean;
  reload: () => void;
  /** Replace the data with a fresher copy an action answered (no request). */
  setData: (data: T) => void;
}

/** Runs `load` whenever `deps` change (and on `reload`); keeps the last data while reloading. */
export function useApi<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setLoading(true);
    setError(null);
    load().then(
      (d) => current && (setData(() => d), setLoading(false)),
      (e) => current && (setError(toProblem(e)), setLoading(false)),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return { data, error, loading, reload: () => setRound((r) => r + 1), setData: (d) => setData(() => d) };
}

export interface Page<T> {
  items: T[];
  next_token?: string | null;
}

export interface Paged<T> {
  items: T[];
  error: Problem | null;
  loading: boolean;
  /** There is a next page to load. */
  more: boolean;
  loadMore: () => void;
  reload: () => void;
  setItems: (update: (items: T[]) => T[]) => void;
}

/** A listing that follows `next_token`: the first page when `deps` change, then "Load more". */
export function usePaged<T>(loadPage: (nextToken?: string) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  // Which listing is current: a page that arrives after the filters changed is dropped.
  const generation = useRef(0);

  function fetchPage(token: string | undefined, append: boolean) {
    const gen = generation.current;
    setLoading(true);
    setError(null);
    loadPage(token).then(
      (page) => {
        if (gen !== generation.current) return;
        setItems((old) => (append ? [...old, ...page.items] : page.items));
        setNext(page.next_token ?? null);
        setLoading(false);
      },
      (e) => {
        if (gen !== generation.current) return;
        setError(toProblem(e));
        setLoading(false);
      },
    );
  }

  useEffect(() => {
    generation.current += 1;
    setItems([]);
    setNext(null);
    fetchPage(undefined, false);
  }, [...deps, round]);

  return {
    items,
    error,
    loading,
    more: next !== null,
    loadMore: () => {
      if (next !== null) fetchPage(next, true);
    },
    reload: () => setRound((r) => r + 1),
    setItems: (update) => setItems(update),
  };
}

/** A button's action: busy while it runs, its refusal kept for display. */
export function useAction<A extends unknown[], T>(run: (...args: A) => Promise<T>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Problem | null>(null);
  async function start(...args: A): Promise<T | undefined> {
    setBusy(true);
    setError(null);
    try {
      return await run(...args);
    } catch (e) {
      setError(toProblem(e));
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { run: start, busy, error, setError };
}
