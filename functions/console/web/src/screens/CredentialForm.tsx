import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, call, ifMatch, type Connector, type Credential, type Problem, type Schemas } from '../api/client';
import { paths } from '../routes';
import { findConnector, formFields, useCatalog } from '../lib/catalog';
import {
  allFields,
  changedFields,
  startingValues,
  withoutSecrets,
  type FormValue,
  type FormValues,
} from '../lib/formValues';
import { useAction, useApi } from '../lib/useApi';
import { may } from '../lib/roles';
import { recentTests } from '../lib/recentTests';
import { problemWords } from '../lib/words';
import { useTitle } from '../lib/useTitle';
import { FieldInput } from '../components/FieldInput';
import { ProblemText } from '../components/ProblemText';
import { Verdict } from '../components/Verdict';

/** The auth types whose tokens the service keeps fresh (and so never health-checks). */
const TOKEN_AUTH_TYPES = ['token_url', 'oauth2_client_credentials', 'oauth2_authorization_code'];

/** Create (`…/credentials/new`) and edit (`…/credentials/{id}/edit`): a form built from the catalog. */
export function CredentialForm() {
  const { params } = useRoute();
  const id = params.id;
  const catalog = useCatalog();
  const existing = useApi(
    () => (id ? call(api.GET('/credentials/{id}', { params: { path: { id } } })) : Promise.resolve(undefined)),
    [id],
  );
  useTitle(id ? 'Edit credential' : 'New credential');
  const ready = catalog.data && (!id || existing.data);
  return (
    <main id="main" tabIndex={-1} class="form-page">
      <p>
        <a href={id ? paths.credential(id) : paths.list}>{id ? 'Back to the credential' : 'Back to Credentials'}</a>
      </p>
      {!ready && (catalog.loading || existing.loading) && (
        <p role="status" class="muted">
          Loading…
        </p>
      )}
      <ProblemText problem={catalog.error ?? existing.error} />
      {ready && (
        // A reload after a conflict brings a new version: the form starts again from it.
        <FormBody key={`${id ?? 'new'}@${existing.data?.version ?? 0}`} catalog={catalog.data!} existing={existing.data} reload={existing.reload} />
      )}
    </main>
  );
}

type FieldErrors = Record<string, string>;

/** A refusal beside the inputs it names: `fields.password` is the password input, `name` the name's. */
function errorsOf(p: Problem): FieldErrors {
  const words = p.code === 'secrets_required' ? 'Type it again: this change needs the secrets in the same request.' : problemWords(p);
  return Object.fromEntries((p.fields ?? []).map((member) => [member.replace(/^fields\./, ''), words]));
}

const splitTags = (text: string) => text.split(/[\s,]+/).filter(Boolean);

function FormBody({ catalog, existing, reload }: { catalog: Connector[]; existing: Credential | undefined; reload: () => void }) {
  const { route, query } = useLocation();
  const editing = existing !== undefined;
  const formRef = useRef<HTMLFormElement>(null);

  const [connectorId, setConnectorId] = useState(existing?.connector ?? (findConnector(catalog, query.connector ?? '')?.id || ''));
  const connector = findConnector(catalog, connectorId);
  const [authTypeId, setAuthTypeId] = useState(existing?.auth_type ?? connector?.default_auth_type ?? '');
  const authType = connector?.auth_types.find((a) => a.id === authTypeId);
  const fields = formFields(authType);
  const stored = existing?.fields;
  const [values, setValues] = useState<FormValues>(() => startingValues(fields, stored));
  const [name, setName] = useState(existing?.name ?? '');
  const [description, setDescription] = useState(existing?.description ?? '');
  const [tags, setTags] = useState(existing?.tags.join(' ') ?? '');
  const [testOnSave, setTestOnSave] = useState(true);
  const [healthCheck, setHealthCheck] = useState(existing?.health_check ?? true);
  // Token credentials are proved by their refreshes, never by scheduled checks.
  const checkable = authType !== undefined && !TOKEN_AUTH_TYPES.includes(authType.id);
  const [report, setReport] = useState<Schemas['TestReport'] | null>(null);
  const [note, setNote] = useState<string | null>(null);
  useTitle(editing ? `Edit ${existing.name}` : 'New credential');

  /** A new connector or auth type: its defaults, keeping what was typed into fields of the same name. */
  function switchTo(nextConnector: string, nextAuthType: string) {
    const next = formFields(findConnector(catalog, nextConnector)?.auth_types.find((a) => a.id === nextAuthType));
    const fresh = startingValues(next, stored);
    for (const f of next) if (values[f.name] !== undefined && f.name in values) fresh[f.name] = values[f.name]!;
    setConnectorId(nextConnector);
    setAuthTypeId(nextAuthType);
    setValues(fresh);
    setReport(null);
    save.setError(null);
    test.setError(null);
  }

  const connection = () => ({ connector: connectorId, auth_type: authTypeId, fields: allFields(fields, values) });

  const test = useAction(async () => {
    setReport(null);
    // Built from the catalog at run time; the API checks it against the connector's rules.
    setReport(await call(api.POST('/credentials/test', { body: connection() as Schemas['UnsavedTest'] })));
  });

  const save = useAction(async () => {
    setNote(null);
    if (!existing) {
      const created = await call(
        api.POST('/credentials', {
          body: {
            ...connection(),
            name: name.trim(),
            ...(description.trim() ? { description: description.trim() } : {}),
            tags: splitTags(tags),
            health_check: healthCheck,
            test: testOnSave,
          } as Schemas['NewCredential'],
          // One key per attempt: a request the browser retries cannot create a second credential.
          headers: { 'Idempotency-Key': crypto.randomUUID() },
        }),
      );
      setValues(withoutSecrets(fields, values));
      if (created.test) recentTests.put(created.id, created.test);
      route(paths.credential(created.id));
      return;
    }
    const patch: Schemas['CredentialPatch'] = {};
    if (name.trim() !== existing.name) patch.name = name.trim();
    if (description.trim() !== (existing.description ?? '')) patch.description = description.trim() || null;
    if (splitTags(tags).join(' ') !== existing.tags.join(' ')) patch.tags = splitTags(tags);
    if (authTypeId !== existing.auth_type) patch.auth_type = authTypeId;
    if (healthCheck !== existing.health_check) patch.health_check = healthCheck;
    const changed = changedFields(fields, values, startingValues(fields, stored));
    // `fields` is typed per connector in `Fields.<connector>.<auth type>`; the patch is built from the catalog.
    if (Object.keys(changed).length > 0) patch.fields = changed as NonNullable<Schemas['CredentialPatch']['fields']>;
    if (Object.keys(patch).length === 0) {
      setNote('Nothing has changed: there is nothing to save.');
      return;
    }
    await call(
      api.PATCH('/credentials/{id}', {
        params: { path: { id: existing.id }, header: { 'If-Match': ifMatch(existing) } },
        body: patch,
      }),
    );
    setValues(withoutSecrets(fields, values));
    route(paths.credential(existing.id));
  });

  const problem = save.error ?? test.error;
  // Inline errors follow the latest refusal.
  const fieldErrors = problem ? errorsOf(problem) : {};
  const conflict = save.error?.code === 'version_mismatch' || save.error?.code === 'edit_conflict';

  /** The browser's own checks on the inputs a test needs (not the name, which only saving needs). */
  function connectionValid(): boolean {
    const inputs = formRef.current?.querySelectorAll<HTMLInputElement>('.connection :is(input, select, textarea)') ?? [];
    return [...inputs].every((i) => i.reportValidity());
  }

  // After a refusal that names inputs, the first of them gets focus (the summary above says why).
  useEffect(() => {
    if (problem?.fields?.length) formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [problem]);

  /** `aria-invalid` and the error's id for an input the latest refusal names. */
  const invalid = (member: string, hint?: string) => ({
    'aria-invalid': fieldErrors[member] ? true : undefined,
    'aria-describedby': [hint, fieldErrors[member] ? `cred-${member}-error` : undefined].filter(Boolean).join(' ') || undefined,
  });
  const set = (fieldName: string) => (v: FormValue) => setValues((old) => ({ ...old, [fieldName]: v }));

  return (
    <>
      <h1>{editing ? `Edit ${existing.name}` : 'New credential'}</h1>
      {editing && !may.edit(existing.access_role) && (
        <p class="warning">Your access to this credential does not allow editing it; the service will refuse the changes.</p>
      )}
      <form
        ref={formRef}
        class="credential-form"
        aria-labelledby="form-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (!save.busy) save.run();
        }}
      >
        <h2 id="form-title" class="sr-only">
          {editing ? 'Credential details' : 'New credential details'}
        </h2>
        <ProblemText problem={problem}>
          {conflict && (
            <button type="button" onClick={reload}>
              Reload the credential (discards your changes)
            </button>
          )}
        </ProblemText>
        <p class="hint">
          Fields marked <span aria-hidden="true">*</span>
          <span class="sr-only">as required</span> are required.
        </p>
        <fieldset>
          <legend>Credential</legend>
          <div class="field">
            <label for="cred-name">
              Name<span class="req" aria-hidden="true"> *</span>
            </label>
            <input id="cred-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} {...invalid('name')} />
            <InlineError id="cred-name" words={fieldErrors.name} />
          </div>
          {editing ? (
            <p class="field static">
              <strong>Connector</strong> {connector?.label ?? connectorId} <span class="muted">(cannot change)</span>
            </p>
          ) : (
            <div class="field">
              <label for="cred-connector">
                Connector<span class="req" aria-hidden="true"> *</span>
              </label>
              <select
                id="cred-connector"
                required
                value={connectorId}
                onChange={(e) => {
                  const next = findConnector(catalog, e.currentTarget.value);
                  switchTo(next?.id ?? '', next?.default_auth_type ?? '');
                }}
              >
                <option value="">Choose a connector</option>
                {catalog.map((c) => (
                  <option value={c.id}>{c.label}</option>
                ))}
              </select>
            </div>
          )}
          {connector && connector.auth_types.length > 1 && (
            <div class="field">
              <label for="cred-auth-type">Authentication</label>
              <select id="cred-auth-type" value={authTypeId} onChange={(e) => switchTo(connectorId, e.currentTarget.value)}>
                {connector.auth_types.map((a) => (
                  <option value={a.id}>{a.label}</option>
                ))}
              </select>
            </div>
          )}
        </fieldset>

        {connector && authType && (
          <fieldset class="connection">
            <legend>
              {connector.label} · {authType.label}
            </legend>
            {editing && (
              <p class="hint">
                Secret values are never shown. Changing a host, port, URL or TLS setting needs the secrets typed again.
              </p>
            )}
            {fields.map((f) => (
              <FieldInput
                key={`${authTypeId}.${f.name}`}
                field={f}
                value={values[f.name] ?? ''}
                onChange={set(f.name)}
                editing={editing}
                storedSecret={existing?.secret_fields.includes(f.name)}
                error={fieldErrors[f.name]}
              />
            ))}
          </fieldset>
        )}

        <fieldset>
          <legend>Description and tags</legend>
          <div class="field">
            <label for="cred-description">Description</label>
            <textarea id="cred-description" rows={2} maxLength={2000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} {...invalid('description')} />
            <InlineError id="cred-description" words={fieldErrors.description} />
          </div>
          <div class="field">
            <label for="cred-tags">Tags</label>
            <input id="cred-tags" value={tags} autocapitalize="off" spellcheck={false} onInput={(e) => setTags(e.currentTarget.value)} {...invalid('tags', 'cred-tags-hint')} />
            <span id="cred-tags-hint" class="hint">
              Separate with spaces. Letters, digits and _ . : - only.
            </span>
            <InlineError id="cred-tags" words={fieldErrors.tags} />
          </div>
        </fieldset>

        {checkable && (
          <div class="field field-check">
            <input id="cred-health-check" type="checkbox" checked={healthCheck} onChange={(e) => setHealthCheck(e.currentTarget.checked)} aria-describedby="cred-health-check-hint" />
            <label for="cred-health-check">Re-test it on a schedule (health check)</label>
            <span id="cred-health-check-hint" class="hint">
              Daily by default, each credential at its own time, so a password changed on the server is found before a data flow fails.
            </span>
          </div>
        )}

        {!editing && authType && (
          <div class="field field-check">
            <input id="cred-test-on-save" type="checkbox" checked={testOnSave} onChange={(e) => setTestOnSave(e.currentTarget.checked)} />
            <label for="cred-test-on-save">Test the connection when saving (its verdict becomes the status)</label>
          </div>
        )}

        <div role="status" aria-live="polite" class="live">
          {test.busy && <p>Testing the connection…</p>}
          {report && <Verdict report={report} />}
          {save.busy && <p>Saving…</p>}
          {note && <p>{note}</p>}
        </div>

        <div class="form-actions">
          <button type="submit" class="primary" aria-busy={save.busy} disabled={!authType}>
            {editing ? 'Save changes' : 'Create credential'}
          </button>
          <button type="button" aria-busy={test.busy} disabled={!authType} onClick={() => !test.busy && connectionValid() && test.run()}>
            {test.busy ? 'Testing…' : 'Test before saving'}
          </button>
          <a href={editing ? paths.credential(existing.id) : paths.list}>Cancel</a>
        </div>
        {editing && (
          <p class="hint">
            Testing unsaved changes uses only what is typed here: type the secrets too, or save and then use Test connection.
          </p>
        )}
      </form>
    </>
  );
}

function InlineError({ id, words }: { id: string; words: string | undefined }) {
  return words ? (
    <span id={`${id}-error`} class="field-error">
      {words}
    </span>
  ) : null;
}
