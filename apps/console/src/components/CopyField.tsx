import { useId, useRef, useState } from 'react';

/** A value to paste elsewhere (a postback URL, a token): read-only, with a Copy button that says it copied. */
export function CopyField({ label, value, secret }: { label: string; value: string; secret?: boolean }) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'no' | ''>('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      // Without clipboard access: select it, so Ctrl-C copies it.
      input.current?.select();
      setCopied('no');
    }
  };
  return (
    <div className={secret ? 'copy-field secret' : 'copy-field'}>
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input id={id} ref={input} readOnly value={value} onFocus={(e) => e.currentTarget.select()} spellCheck={false} />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <span className="copy-note" role="status" aria-live="polite">
        {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Selected: press Ctrl-C (or ⌘-C) to copy.' : ''}
      </span>
    </div>
  );
}
