// The connector catalog (GET /connectors): labels for lists and drawers, fields for forms.
// Fetched once per page load and shared: it is the same for every caller.
import { api, call, type Connector, type Schemas } from '../api/client';
import { useApi } from './useApi';

export type AuthType = Schemas['AuthTypeView'];
export type FieldView = Schemas['FieldView'];

let cached: Promise<Connector[]> | null = null;

function loadCatalog(): Promise<Connector[]> {
  cached ??= call(api.GET('/connectors')).then(
    (list) => list.connectors,
    (e: unknown) => {
      cached = null; // a failed load is tried again next time
      throw e;
    },
  );
  return cached;
}

export function useCatalog() {
  return useApi(loadCatalog, []);
}

export function findConnector(catalog: Connector[] | undefined, id: string): Connector | undefined {
  return catalog?.find((c) => c.id === id);
}

export function findAuthType(catalog: Connector[] | undefined, connector: string, authType: string): AuthType | undefined {
  return findConnector(catalog, connector)?.auth_types.find((a) => a.id === authType);
}

/** A connector's label, or its id while the catalog loads. */
export function connectorLabel(catalog: Connector[] | undefined, id: string): string {
  return findConnector(catalog, id)?.label ?? id;
}

/** The fields a person fills in: the service's own tokens are never asked. */
export function formFields(authType: AuthType | undefined): FieldView[] {
  return authType?.fields.filter((f) => !f.held_by_service) ?? [];
}
