import { FormEvent, InputHTMLAttributes, ReactNode, SelectHTMLAttributes, TextareaHTMLAttributes, useId, useState } from 'react';
import { Status } from './Status';

/** A labelled control of a form: the label is tied to the control by a generated id. */
export function Field({ label, wide, children }: { label: ReactNode; wide?: boolean; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className={wide ? 'field wide' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}

type Labelled = { label: ReactNode; wide?: boolean };

export function InputField({ label, wide, ...input }: Labelled & InputHTMLAttributes<HTMLInputElement>) {
  return <Field label={label} wide={wide}>{(id) => <input id={id} {...input} />}</Field>;
}

export function TextAreaField({ label, wide, ...area }: Labelled & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return <Field label={label} wide={wide}>{(id) => <textarea id={id} {...area} />}</Field>;
}

/** `options`: [value, text] pairs, or plain values shown as they are. */
export function SelectField({ label, wide, options, ...select }: Labelled & { options: (string | [string, string])[] } & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <Field label={label} wide={wide}>
      {(id) => (
        <select id={id} {...select}>
          {options.map((o) => {
            const [value, text] = typeof o === 'string' ? [o, o] : o;
            return (
              <option key={value} value={value}>
                {text}
              </option>
            );
          })}
        </select>
      )}
    </Field>
  );
}

type TextKeys<F> = { [K in keyof F]: F[K] extends string ? K : never }[keyof F];

/**
 * A form's state: `bind('name')` gives a control its value and an onChange that writes the field (through `map`,
 * e.g. trimming or upper-casing, when given).
 */
export function useForm<F extends object>(initial: F) {
  const [form, setForm] = useState(initial);
  const bind = (k: TextKeys<F>, map: (v: string) => string = (v) => v) => ({
    value: form[k] as string,
    onChange: (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: map(e.target.value) })),
  });
  return { form, setForm, bind };
}

/** An onSubmit that stays on the page (no browser submit) and runs `fn`. */
export const submitWith = (fn: () => void) => (e: FormEvent) => {
  e.preventDefault();
  fn();
};

/**
 * A form's submit button, disabled while the action runs, with the action's loading and error state beside it;
 * `children` (another button, a progress bar, a confirmation) stand between the two.
 */
export function SubmitRow({ label, action, disabled, children }: { label: string; action: { isPending: boolean; error: unknown }; disabled?: boolean; children?: ReactNode }) {
  return (
    <div className="button-row">
      <button type="submit" disabled={action.isPending || disabled}>
        {label}
      </button>
      {children}
      <Status pending={action.isPending} error={action.error} />
    </div>
  );
}

/** A secret the server shows once (a token, a signing secret), with what the person must do about it. */
export function ShownOnce({ testId, note, children }: { testId?: string; note: ReactNode; children: ReactNode }) {
  return (
    <div className="card inner token-once" data-testid={testId}>
      <p role="status">{note}</p>
      {children}
    </div>
  );
}
