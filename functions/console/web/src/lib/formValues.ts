// Between the catalog's typed fields and a form's inputs: every input holds a string (a checkbox
// a boolean); `toJson` turns it into what the API takes, `fromJson` a stored value back.
import type { FieldView } from './catalog';

export type FormValue = string | boolean;
export type FormValues = Record<string, FormValue>;

export function fromJson(field: FieldView, value: unknown): FormValue {
  if (field.type === 'boolean') return value === true;
  if (value === null || value === undefined) return '';
  switch (field.type) {
    case 'string_list':
      return Array.isArray(value) ? value.join(' ') : String(value);
    case 'headers':
      return Object.entries(value as Record<string, string>)
        .map(([name, v]) => `${name}: ${v}`)
        .join('\n');
    default:
      return String(value);
  }
}

/** The value to send, or `undefined` for an empty input (left out). */
export function toJson(field: FieldView, value: FormValue): unknown {
  if (typeof value === 'boolean') return value;
  // Secrets are sent exactly as typed; other values without surrounding blanks.
  const text = field.secret ? value : value.trim();
  if (text === '') return undefined;
  switch (field.type) {
    case 'integer':
      return Number(text);
    case 'string_list':
      return text.split(/[\s,]+/).filter(Boolean);
    case 'headers':
      return Object.fromEntries(
        text
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean)
          .map((line) => {
            const colon = line.indexOf(':');
            return colon < 0 ? [line, ''] : [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
          }),
      );
    case 'string':
    case 'text':
    case 'boolean':
    case 'enum':
    case 'url':
    case 'hostname':
    case 'pem_certificates':
    case 'aws_region':
    case 'account_identifier':
      return text;
  }
}

/** The form's starting values: a stored credential's, or the catalog's defaults. Secrets start empty. */
export function startingValues(fields: FieldView[], stored?: Record<string, unknown>): FormValues {
  return Object.fromEntries(
    fields.map((f) => [f.name, f.secret ? '' : fromJson(f, stored ? stored[f.name] : f.default)]),
  );
}

/** The fields to send for a whole credential (create, unsaved test). */
export function allFields(fields: FieldView[], values: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = toJson(f, values[f.name] ?? '');
    if (v !== undefined) out[f.name] = v;
  }
  return out;
}

/** An edit's fields: changed ones, `null` for a cleared one, and the secrets typed in. */
export function changedFields(fields: FieldView[], values: FormValues, initial: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const now = toJson(f, values[f.name] ?? '');
    if (f.secret) {
      if (now !== undefined) out[f.name] = now;
      continue;
    }
    const before = toJson(f, initial[f.name] ?? '');
    if (JSON.stringify(now) !== JSON.stringify(before)) out[f.name] = now ?? null;
  }
  return out;
}

/** Drops the typed secrets from form values once they have been sent. */
export function withoutSecrets(fields: FieldView[], values: FormValues): FormValues {
  const out = { ...values };
  for (const f of fields) if (f.secret) out[f.name] = '';
  return out;
}
