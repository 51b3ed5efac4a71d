// Collects rows per group (a table, a topic) and hands them to a writer in batches: when a group holds
// `maxSize` rows, when its oldest row has waited `maxWaitMs`, or on demand (flush, drain). Within a
// batch, rows with the same key are collapsed to the one `prefer` picks. Each add() resolves once every
// row it brought has been written, or superseded by a row that was; nothing is acknowledged earlier.
// The writer owns retries: the batcher never drops a batch, it waits for the writer to finish it.
import { SluiceBugError, SluiceError } from '../errors.js';

import type { BatchHooks } from '../config/user-functions.js';

export type { BatchHooks } from '../config/user-functions.js';

export interface BatcherOptions<Row> {
  maxSize: number;
  maxWaitMs: number;
  /** Writes one batch; may retry inside. A rejection is reported to onFail and the batch tried again. */
  write(rows: Row[], group: string): Promise<void>;
  /** Rows with the same key in one batch are collapsed (last wins unless `prefer` says otherwise). */
  keyOf?(row: Row): string;
  /** Of two rows with the same key, the one to keep. */
  prefer?(current: Row, incoming: Row): Row;
  hooks?: BatchHooks<Row>;
  /** Wait before writing a batch again after its write rejected. */
  retryDelayMs?: number;
  schedule?: (fn: () => void, ms: number) => { cancel(): void };
}

type FlushReason = 'size' | 'time' | 'demand';

interface Ticket {
  remaining: number;
  resolve(): void;
  reject(error: Error): void;
}

interface Entry<Row> {
  row: Row;
  tickets: Ticket[];
}

interface Group<Row> {
  entries: Entry<Row>[];
  byKey: Map<string, number>;
  timer?: { cancel(): void };
  /** The batch being written now, if any: one write per group at a time, in order. */
  writing?: Promise<void>;
}

/** The batcher was closed (shutdown, revoke) with these rows unwritten: they are replayed from Kafka. */
export class BatchClosedError extends SluiceError {
  constructor() {
    super('the batcher was closed before these rows were written', {
      code: 'SLUICE_CLOSED',
      retriable: false,
    });
  }
}

const defaultSchedule = (fn: () => void, ms: number) => {
  const timer = setTimeout(fn, ms);
  timer.unref?.();
  return { cancel: () => clearTimeout(timer) };
};

export class Batcher<Row> {
  private readonly groups = new Map<string, Group<Row>>();
  private paused = false;
  private closed = false;
  private readonly schedule: NonNullable<BatcherOptions<Row>['schedule']>;

  constructor(private readonly options: BatcherOptions<Row>) {
    if (!(options.maxSize >= 1))
      throw new SluiceBugError(`maxSize must be at least 1, got ${options.maxSize}`);
    this.schedule = options.schedule ?? defaultSchedule;
  }

  /** Queues rows for `group`; resolves once all of them are written (or superseded by written rows). */
  add(group: string, rows: readonly Row[]): Promise<void> {
    if (this.closed) return Promise.reject(new BatchClosedError());
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const ticket: Ticket = { remaining: rows.length, resolve, reject };
      const target = this.group(group);
      for (const row of rows) this.append(target, row, ticket);
      if (target.entries.length >= this.options.maxSize) void this.flushGroup(group, 'size');
      else if (!target.timer && !this.paused)
        target.timer = this.schedule(() => void this.flushGroup(group, 'time'), this.options.maxWaitMs);
    });
  }

  /** Writes what is buffered now (one group, or all), and resolves when that is written. */
  async flush(group?: string): Promise<void> {
    const names = group === undefined ? [...this.groups.keys()] : [group];
    await Promise.all(names.map((name) => this.flushGroup(name, 'demand')));
  }

  /** Stops writing on size and time (on-demand flushes still write); rows keep collecting. */
  pause(): void {
    this.paused = true;
    for (const group of this.groups.values()) {
      group.timer?.cancel();
      group.timer = undefined;
    }
  }

  resume(): void {
    this.paused = false;
    for (const [name, group] of this.groups) {
      if (group.entries.length >= this.options.maxSize) void this.flushGroup(name, 'size');
      if (group.entries.length > 0 && !group.timer)
        group.timer = this.schedule(() => void this.flushGroup(name, 'time'), this.options.maxWaitMs);
    }
  }

  /** Writes everything, including what arrives meanwhile, until nothing is buffered or in flight. */
  async drain(): Promise<void> {
    while (this.buffered() > 0 || [...this.groups.values()].some((g) => g.writing !== undefined))
      await this.flush();
  }

  /** Rows waiting per group (not counting a batch being written). */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.groups].map(([name, g]) => [name, g.entries.length]));
  }

  buffered(): number {
    let total = 0;
    for (const group of this.groups.values()) total += group.entries.length;
    return total;
  }

  /** Rejects every waiting add() with BatchClosedError; a batch being written finishes on its own. */
  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      group.timer?.cancel();
      for (const entry of group.entries)
        for (const ticket of entry.tickets) ticket.reject(new BatchClosedError());
      group.entries = [];
      group.byKey.clear();
    }
  }

  private group(name: string): Group<Row> {
    let group = this.groups.get(name);
    if (!group) {
      group = { entries: [], byKey: new Map() };
      this.groups.set(name, group);
    }
    return group;
  }

  private append(group: Group<Row>, row: Row, ticket: Ticket): void {
    const key = this.options.keyOf?.(row);
    const at = key === undefined ? undefined : group.byKey.get(key);
    if (at === undefined) {
      if (key !== undefined) group.byKey.set(key, group.entries.length);
      group.entries.push({ row, tickets: [ticket] });
      return;
    }
    // The same key twice in one batch: keep one row, and acknowledge both adds when it is written.
    const entry = group.entries[at]!;
    entry.row = this.options.prefer ? this.options.prefer(entry.row, row) : row;
    entry.tickets.push(ticket);
  }

  /**
   * 'size' writes full batches only, 'time' and 'demand' everything buffered when they run. Chained after
   * the write in flight, so a group's batches are written one at a time and in order.
   */
  private flushGroup(name: string, reason: FlushReason): Promise<void> {
    const group = this.groups.get(name);
    if (!group) return Promise.resolve();
    const previous = group.writing ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.paused && reason !== 'demand') return;
      if (reason !== 'size') {
        group.timer?.cancel();
        group.timer = undefined;
      }
      const minimum = reason === 'size' ? this.options.maxSize : 1;
      while (group.entries.length >= minimum) {
        const batch = group.entries.splice(0, this.options.maxSize);
        group.byKey.clear();
        group.entries.forEach((entry, i) => {
          const key = this.options.keyOf?.(entry.row);
          if (key !== undefined) group.byKey.set(key, i);
        });
        await this.writeBatch(batch, name);
      }
      if (group.entries.length > 0 && !group.timer && !this.paused && !this.closed)
        group.timer = this.schedule(() => void this.flushGroup(name, 'time'), this.options.maxWaitMs);
    });
    group.writing = next;
    void next.finally(() => {
      if (group.writing === next) group.writing = undefined;
    });
    return next;
  }

  private async writeBatch(batch: Entry<Row>[], group: string): Promise<void> {
    const hooks = this.options.hooks;
    for (;;) {
      const rows = batch.map((entry) => entry.row);
      try {
        const shaped = hooks?.beforeFlush ? await hooks.beforeFlush(rows, group) : rows;
        if (shaped.length > 0) await this.options.write(shaped, group);
        hooks?.onSuccess?.(shaped, group);
        break;
      } catch (error) {
        hooks?.onFail?.(error, rows, group);
        if (this.closed) {
          for (const entry of batch)
            for (const ticket of entry.tickets) ticket.reject(new BatchClosedError());
          return;
        }
        await new Promise<void>((resolve) => this.schedule(resolve, this.options.retryDelayMs ?? 1_000));
      }
    }
    for (const entry of batch)
      for (const ticket of entry.tickets) {
        ticket.remaining -= 1;
        if (ticket.remaining === 0) ticket.resolve();
      }
  }
}
