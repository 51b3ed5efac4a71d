// Errors of the bench's Java peers: a program that would not compile, a JVM that died or stalled, a
// run that did not read every event. Each carries the JVM's last output lines when there was a JVM.
import { SluiceError } from '../../errors.js';

export class BenchPeerError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'SLUICE_BENCH_PEER_FAILED', retriable: false, cause });
  }
}
