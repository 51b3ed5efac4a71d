// A stage that works on up to `concurrency` items of one partition at once and releases their
// outcomes strictly in arrival (offset) order, so later stages and the windows see the partition's
// records in order. Outcomes that are ready synchronously are released without a promise.

export class OrderedStage<I, O> {
  private readonly slots: { item: I; outcome?: O; done: boolean }[] = [];
  private head = 0;
  private started = 0;
  private running = 0;

  constructor(
    private readonly concurrency: number,
    private readonly work: (item: I) => O | Promise<O>,
    private readonly release: (item: I, outcome: O) => void,
  ) {}

  /** Items accepted and not yet released. */
  get size(): number {
    return this.slots.length - this.head;
  }

  push(item: I): void {
    this.slots.push({ item, done: false });
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.head + this.started < this.slots.length) {
      const slot = this.slots[this.head + this.started] as { item: I; outcome?: O; done: boolean };
      this.started += 1;
      const outcome = this.work(slot.item);
      if (outcome instanceof Promise) {
        this.running += 1;
        outcome.then(
          (value) => this.finish(slot, value, true),
          (error: unknown) => {
            // `work` turns failures into outcomes; reaching here is a bug, and must not stall the partition.
            throw error;
          },
        );
      } else {
        this.finish(slot, outcome, false);
      }
    }
  }

  private finish(slot: { item: I; outcome?: O; done: boolean }, outcome: O, async: boolean): void {
    slot.outcome = outcome;
    slot.done = true;
    if (async) this.running -= 1;
    this.flush();
    if (async) this.pump();
  }

  private flush(): void {
    while (this.head < this.slots.length && (this.slots[this.head] as { done: boolean }).done) {
      const slot = this.slots[this.head] as { item: I; outcome: O };
      this.head += 1;
      this.started -= 1;
      this.release(slot.item, slot.outcome);
    }
    if (this.head > 256 && this.head * 2 > this.slots.length) {
      this.slots.splice(0, this.head);
      this.head = 0;
    }
  }
}
