// A pipeline configuration that does not validate: names the field, what was expected and what was found.
import { SluiceError } from '../errors.js';

export interface ConfigIssue {
  path: string;
  expected: string;
  found: unknown;
}

function describeIssue(issue: ConfigIssue): string {
  const found = issue.found === undefined ? 'nothing' : JSON.stringify(issue.found);
  return `${issue.path || '(root)'}: expected ${issue.expected}, found ${found}`;
}

export class ConfigError extends SluiceError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source?: string, cause?: unknown) {
    // Issues about command-line options (`--brokers`) are not the pipeline file's fault.
    const options = issues.length > 0 && issues.every((i) => i.path.startsWith('--'));
    const where = options
      ? 'invalid command-line option'
      : source === undefined
        ? 'invalid pipeline config'
        : `invalid pipeline config in ${source}`;
    super(`${where}:\n${issues.map((i) => `  ${describeIssue(i)}`).join('\n')}`, {
      code: 'SLUICE_CONFIG_INVALID',
      retriable: false,
      cause,
    });
    this.issues = issues;
  }
}
