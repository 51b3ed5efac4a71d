// A worker's /status, read over HTTP as an operator would: the partitions it owns, with their pauses
// and buffers. The fault scenarios watch it to see a worker pause for a sink and resume by itself.
import type { PartitionStatus, PipelineStatus } from '../../src/runtime/member-status.js';

/** The partitions the worker on `port` owns and has restored; rejects while it does not answer. */
export async function partitionStatus(port: number): Promise<PartitionStatus[]> {
  const response = await fetch(`http://127.0.0.1:${port}/status`);
  if (!response.ok) throw new Error(`/status answered ${response.status}`);
  return ((await response.json()) as PipelineStatus).partitions;
}

/**
 * The partitions that compute the windows: the re-keyed member's, when the pipeline's windows are
 * re-keyed (its /status shows them under `rekeyed`), else the source's. The sink's pauses and the
 * buffers it fills show there.
 */
export async function windowStatus(port: number): Promise<PartitionStatus[]> {
  const response = await fetch(`http://127.0.0.1:${port}/status`);
  if (!response.ok) throw new Error(`/status answered ${response.status}`);
  const status = (await response.json()) as PipelineStatus;
  return (status.rekeyed ?? status).partitions;
}
