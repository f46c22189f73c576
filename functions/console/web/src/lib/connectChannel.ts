// The OAuth connect round trip ends on the console's "connected" page, in the window that went
// to the provider; it tells the console's other windows on this channel, so that the drawer
// showing the credential reloads it.
import type { Schemas } from '../api/client';

const name = 'latchkey';

export type ConnectMessage = Schemas['ConnectOutcome'] & { credential_id: string };

export function announceConnect(message: ConnectMessage) {
  const channel = new BroadcastChannel(name);
  channel.postMessage(message);
  channel.close();
}

/** Calls `onMessage` for every connect outcome; returns the unsubscribe function. */
export function listenForConnect(onMessage: (m: ConnectMessage) => void): () => void {
  const channel = new BroadcastChannel(name);
  channel.onmessage = (e: MessageEvent<ConnectMessage>) => onMessage(e.data);
  return () => channel.close();
}
