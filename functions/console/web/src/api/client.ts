// The typed API client: `generated/api.d.ts` is generated from infra/openapi.json (`npm run api`),
// so a change of the API breaks `tsc` here instead of the console's users.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '../../generated/api';
import { session } from '../session';

export type Schemas = components['schemas'];
export type Credential = Schemas['CredentialView'];
export type Connector = Schemas['ConnectorView'];
export type Role = Schemas['Role'];

/** The API's root: the page's `<base href>` (`/` locally, `/<stage>/` behind API Gateway). */
export const apiRoot = new URL('.', document.baseURI);

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    // The gateway's 401: the token expired or was revoked. Back to sign-in, then here again.
    if (response.status === 401) session.expired();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: apiRoot.href.replace(/\/$/, '') });
api.use(auth);

/** An API refusal, as a person should read it. */
export interface Problem {
  status: number;
  code: string;
  message: string;
  /** The request members the refusal is about (`name`, `fields.password`), when the API names them. */
  fields?: string[];
  /** 429: seconds until the call is allowed again. */
  retryAfter?: number;
}

/** The `{error: {code, message}}` body of a 4xx/5xx (or API Gateway's `{message}`). */
export function problem(response: Response, body: unknown): Problem {
  const b = body as { error?: Partial<Schemas['ErrorDetail']>; message?: string } | undefined;
  const retryAfter = Number(response.headers.get('Retry-After'));
  return {
    status: response.status,
    code: b?.error?.code ?? (response.status === 401 ? 'unauthenticated' : 'unexpected'),
    message:
      b?.error?.message ?? b?.message ?? `The service answered ${response.status}. Try again in a moment.`,
    ...(b?.error?.fields ? { fields: b.error.fields } : {}),
    ...(retryAfter > 0 ? { retryAfter } : {}),
  };
}

/** Thrown by `call` for any answer that is not a success, and for a network failure. */
export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

/** The data of an openapi-fetch answer, or an `ApiError` carrying the refusal. */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await request;
  } catch {
    throw new ApiError({
      status: 0,
      code: 'network',
      message: 'The service could not be reached. Check your connection and try again.',
    });
  }
  if (!answer.response.ok) throw new ApiError(problem(answer.response, answer.error));
  return answer.data as T;
}

export function toProblem(e: unknown): Problem {
  if (e instanceof ApiError) return e.problem;
  return { status: 0, code: 'unexpected', message: 'Something went wrong in the console. Reload the page and try again.' };
}

/** The `If-Match` value for a credential as read: its version is its ETag. */
export const ifMatch = (c: Pick<Credential, 'version'>) => `"${c.version}"`;
