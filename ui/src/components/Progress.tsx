// A progress bar with a label and an optional Cancel button. A missing
// fraction shows an indeterminate bar (the backend has not reported how far yet).

export interface ProgressProps {
  testid: string;
  label: string;
  /** 0 to 1, or undefined when unknown. */
  fraction?: number;
  onCancel?: () => void;
}

export function Progress(props: ProgressProps) {
  const known = props.fraction !== undefined && Number.isFinite(props.fraction);
  const width = known ? `${Math.round(Math.min(1, Math.max(0, props.fraction ?? 0)) * 100)}%` : undefined;
  return (
    <div class="progress" data-testid={props.testid}>
      <div class={`progress-track ${known ? "" : "indeterminate"}`}>
        <div class="progress-fill" style={width ? { width } : undefined} />
      </div>
      <span class="progress-label" data-testid={`${props.testid}-label`}>
        {props.label}
      </span>
      {props.onCancel && (
        <button type="button" class="btn small" data-testid={`${props.testid}-cancel`} onClick={props.onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}
