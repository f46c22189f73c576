import type { FieldView } from '../lib/catalog';
import type { FormValue } from '../lib/formValues';

const typeHints: Partial<Record<FieldView['type'], string>> = {
  string_list: 'Separate several with spaces.',
  headers: 'One per line, as Name: value.',
  pem_certificates: 'One or more PEM certificates (-----BEGIN CERTIFICATE-----).',
  aws_region: 'For example eu-west-1.',
  account_identifier: 'For example myorg-account1.',
};

/**
 * One catalog field as an input, chosen by its type, with its label, required mark, help text
 * and error wired to it. Secret fields are password inputs that never show a stored value.
 */
export function FieldInput({
  field,
  value,
  onChange,
  editing,
  storedSecret,
  error,
}: {
  field: FieldView;
  value: FormValue;
  onChange: (v: FormValue) => void;
  /** Editing a saved credential: an empty secret keeps the stored one. */
  editing: boolean;
  /** Editing: whether this secret field is set. */
  storedSecret?: boolean;
  error?: string | undefined;
}) {
  const id = `field-${field.name}`;
  const help: [string, string][] = [];
  if (field.description) help.push([`${id}-help`, field.description]);
  const typeHint = typeHints[field.type];
  if (typeHint) help.push([`${id}-type`, typeHint]);
  if (field.secret && editing) {
    help.push([
      `${id}-keep`,
      storedSecret ? 'Set. Leave empty to keep it; type a new value to replace it.' : 'Not set.',
    ]);
  }
  if (error) help.push([`${id}-error`, error]);
  const describedBy = help.map(([hid]) => hid).join(' ') || undefined;
  const required = field.required && !(field.secret && editing);
  const text = typeof value === 'string' ? value : '';
  const set = (e: Event) => onChange((e.currentTarget as HTMLInputElement).value);
  const common = {
    id,
    name: field.name,
    required,
    'aria-describedby': describedBy,
    'aria-invalid': error ? true : undefined,
  };

  const descriptions = help.map(([hid, words]) => (
    <span id={hid} class={hid.endsWith('-error') ? 'field-error' : 'hint'}>
      {words}
    </span>
  ));

  if (field.type === 'boolean') {
    return (
      <div class="field field-check">
        <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.currentTarget.checked)} />
        <label for={id}>{field.label}</label>
        {descriptions}
      </div>
    );
  }

  return (
    <div class="field">
      <label for={id}>
        {field.label}
        {required && (
          <span class="req" aria-hidden="true">
            {' '}
            *
          </span>
        )}
      </label>
      {control()}
      {descriptions}
    </div>
  );

  function control() {
    if (field.secret) {
      // A multi-line secret (a private key) cannot be a password input, which drops line
      // breaks: a textarea whose characters are masked by CSS instead.
      if (field.type === 'text') {
        return (
          <textarea {...common} class="masked" rows={4} autocomplete="off" spellcheck={false} value={text} onInput={set} />
        );
      }
      return <input {...common} type="password" autocomplete="new-password" spellcheck={false} value={text} onInput={set} />;
    }
    switch (field.type) {
      case 'enum':
        return (
          <select {...common} value={text} onChange={set}>
            {!field.required && field.default == null && <option value="">(not set)</option>}
            {(field.values ?? []).map((v) => (
              <option value={v}>{v}</option>
            ))}
          </select>
        );
      case 'integer':
        return (
          <input
            {...common}
            type="number"
            inputMode="numeric"
            step={1}
            min={field.min ?? undefined}
            max={field.max ?? undefined}
            value={text}
            onInput={set}
          />
        );
      case 'url':
        return <input {...common} type="url" spellcheck={false} autocomplete="off" value={text} onInput={set} />;
      case 'text':
      case 'headers':
      case 'pem_certificates':
        return <textarea {...common} class="mono" rows={field.type === 'headers' ? 3 : 5} spellcheck={false} value={text} onInput={set} />;
      case 'string':
      case 'hostname':
      case 'string_list':
      case 'aws_region':
      case 'account_identifier':
      case 'boolean':
        return <input {...common} type="text" spellcheck={false} autocomplete="off" autocapitalize="off" value={text} onInput={set} />;
    }
  }
}
