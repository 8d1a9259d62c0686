// A bounded queue of async jobs run strictly in order: the display applies its messages
// through it, so that a page that decodes slower than the relay sends cannot pile up an
// unbounded backlog (the data channel has no flow control towards the page).

/**
 * OrderedQueue runs async jobs one after the other, in the order they were added. It counts the
 * bytes of the jobs not yet finished: add refuses a job that would take them past limit, and
 * drop forgets every job not yet started.
 */
export class OrderedQueue {
  constructor(limit) {
    this.limit = limit;
    this.bytes = 0;
    this.epoch = 0; // bumped by drop: jobs of an older epoch do not run
    this.chain = Promise.resolve();
  }

  /** Queues job, an async function standing for size bytes; returns false past the limit. */
  add(size, job) {
    if (this.bytes + size > this.limit) return false;
    const epoch = this.epoch;
    this.bytes += size;
    this.chain = this.chain.then(async () => {
      if (epoch !== this.epoch) return;
      try {
        await job();
      } catch (err) {
        console.warn('peerdesk: queued job failed:', err?.message ?? err);
      } finally {
        if (epoch === this.epoch) this.bytes -= size;
      }
    });
    return true;
  }

  /** Forgets every job not yet started; the one running, if any, finishes. */
  drop() {
    this.epoch++;
    this.bytes = 0;
  }

  /** Resolves once every job queued so far has run or been dropped. */
  idle() {
    return this.chain;
  }
}
