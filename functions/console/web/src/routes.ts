// Every screen has a URL under `<api root>/console/`, beside the API's own routes.
import { apiRoot } from './api/client';

export const root = apiRoot.pathname; // "/" or "/<stage>/"
const c = `${root}console`;

export const paths = {
  signIn: `${c}/sign-in`,
  signedIn: `${c}/signed-in`,
  list: `${c}/credentials`,
  deleted: `${c}/credentials/deleted`,
  create: `${c}/credentials/new`,
  connected: `${c}/connected`,
  credential: (id: string) => `${c}/credentials/${encodeURIComponent(id)}`,
  edit: (id: string) => `${c}/credentials/${encodeURIComponent(id)}/edit`,
  share: (id: string) => `${c}/credentials/${encodeURIComponent(id)}/share`,
  remove: (id: string) => `${c}/credentials/${encodeURIComponent(id)}/delete`,
};

/** Route patterns for preact-iso's router. */
export const patterns = {
  signIn: paths.signIn,
  list: paths.list,
  deleted: paths.deleted,
  create: paths.create,
  connected: paths.connected,
  credential: `${c}/credentials/:id`,
  edit: `${c}/credentials/:id/edit`,
  share: `${c}/credentials/:id/share`,
  remove: `${c}/credentials/:id/delete`,
};
