// Errors of the local stack: a missing tool, a failed download, a taken port, a server that did not
// come up. Each says what to do next; a server failure carries the tail of the server's log.
import { SluiceError } from '../../errors.js';

export class StackError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'SLUICE_STACK_FAILED', retriable: false, cause });
  }
}
