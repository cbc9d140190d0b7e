import { createEventHasher } from './chain.js';
import type { ChainedEvent, CheckpointRecord } from './event.js';
import type { CheckpointVerifier } from './signer.js';

const GENESIS = '0'.repeat(64);

export interface VerifyFailure {
  seq: number;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
  /** The newest signed checkpoint matched against its event. */
  lastCheckpoint: { seq: number; timeMs: number } | null;
  checkpoints: number;
  /** Gaps allowed and found (filtered exports only). */
  gaps: number;
  failure: VerifyFailure | null;
}

/**
 * Checks events fed in sequence order: each hash recomputed, each link to
 * the previous event, no gaps (unless `allowGaps`), and every signed
 * checkpoint against the event it names. Stops at the first failure, which
 * is the earliest broken sequence number.
 */
export class ChainChecker {
  #events = 0;
  #gaps = 0;
  #first: number | null = null;
  #prev: { seq: number; hash: string } | null;
  #failure: VerifyFailure | null = null;
  readonly #checkpoints = new Map<number, CheckpointRecord>();
  #checkpointsChecked = 0;
  #lastCheckpoint: { seq: number; timeMs: number } | null = null;
  readonly #hasher = createEventHasher();

  constructor(
    private readonly verifier: CheckpointVerifier,
    private readonly options: {
      /** A filtered export: events may be missing between the ones present. */
      allowGaps: boolean;
      /** The range does not start at seq 1; the first event's link is taken as given. */
      startAnywhere: boolean;
      /** The event just before the range, when verifying from a sequence number. */
      previous?: { seq: number; hash: string } | null;
    },
  ) {
    this.#prev = options.previous ?? null;
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Checkpoints must be added before the events they name. Returns false once failed. */
  addCheckpoint(cp: CheckpointRecord): boolean {
    if (this.#failure) return false;
    const verdict = this.verifier.check(cp);
    if (verdict !== 'ok') {
      const why = verdict === 'unknown_key' ? `signed by unknown key ${cp.keyId}` : 'signature does not verify';
      return this.#fail(cp.seq, `checkpoint at seq ${cp.seq}: ${why}`);
    }
    this.#checkpoints.set(cp.seq, cp);
    return true;
  }

  addEvent(event: ChainedEvent): boolean {
    if (this.#failure || !this.#linkOk(event.seq, event.prevHash)) return false;
    if (this.#hasher.hash(event, event.seq, event.prevHash) !== event.hash) return this.#altered(event.seq);
    return this.#accept(event.seq, event.hash);
  }

  /**
   * {@link addEvent} for an event whose hash the caller computed from its
   * stored content, by the same definition ({@link createEventHasher}), without
   * building the event (the COPY fast path of verification).
   */
  addHashed(seq: number, prevHash: string, hash: string, computedHash: string): boolean {
    if (this.#failure || !this.#linkOk(seq, prevHash)) return false;
    if (computedHash !== hash) return this.#altered(seq);
    return this.#accept(seq, hash);
  }

  #linkOk(seq: number, prevHash: string): boolean {
    const prev = this.#prev;
    if (prev && seq <= prev.seq) return this.#fail(seq, `out of order after seq ${prev.seq}`);
    if (!prev) {
      if (seq !== 1 && !this.options.startAnywhere) return this.#fail(1, `event missing (first present is seq ${seq})`);
      if (seq === 1 && prevHash !== GENESIS) return this.#fail(1, 'first event does not start from the genesis hash');
    } else if (seq !== prev.seq + 1) {
      if (!this.options.allowGaps) return this.#fail(prev.seq + 1, `event missing (next present is seq ${seq})`);
      this.#gaps += 1;
    } else if (prevHash !== prev.hash) {
      return this.#fail(seq, 'previous-hash link does not match the event before it (chain broken)');
    }
    return true;
  }

  #altered(seq: number): false {
    return this.#fail(seq, 'stored hash does not match the event content (event altered)');
  }

  #accept(seq: number, hash: string): boolean {
    const cp = this.#checkpoints.get(seq);
    if (cp) {
      if (cp.hash !== hash) return this.#fail(seq, `checkpoint at seq ${seq} does not match the event (event replaced)`);
      this.#checkpoints.delete(seq);
      this.#checkpointsChecked += 1;
      this.#lastCheckpoint = { seq: cp.seq, timeMs: cp.timeMs };
    }
    this.#first ??= seq;
    this.#events += 1;
    this.#prev = { seq, hash };
    return true;
  }

  /** Checkpoints that named events never seen mean events were removed (for a complete range). */
  finish(options: { requireAllCheckpoints: boolean }): VerifyResult {
    if (!this.#failure && options.requireAllCheckpoints && this.#checkpoints.size > 0) {
      const missing = Math.min(...this.#checkpoints.keys());
      this.#fail(missing, `signed checkpoint names seq ${missing}, which is no longer in the trail (events removed at the tail?)`);
    }
    return {
      ok: this.#failure === null,
      events: this.#events,
      firstSeq: this.#first,
      lastSeq: this.#prev?.seq ?? null,
      lastHash: this.#prev?.hash ?? null,
      lastCheckpoint: this.#lastCheckpoint,
      checkpoints: this.#checkpointsChecked,
      gaps: this.#gaps,
      failure: this.#failure,
    };
  }

  #fail(seq: number, reason: string): false {
    this.#failure ??= { seq, reason };
    return false;
  }
}

export function describeResult(result: VerifyResult): string {
  if (!result.ok && result.failure) return `FAILED at seq ${result.failure.seq}: ${result.failure.reason}`;
  const range = result.firstSeq === null ? 'no events' : `${result.events} events (seq ${result.firstSeq}..${result.lastSeq})`;
  const gaps = result.gaps > 0 ? `, ${result.gaps} gaps (filtered export)` : '';
  const cp = result.lastCheckpoint;
  const unsigned = cp && result.lastSeq !== null && result.lastSeq > cp.seq ? `, ${result.lastSeq - cp.seq} newer events not yet under a checkpoint` : '';
  const none = result.events > 0 ? '; no signed checkpoint yet (one is written every N events, every M seconds and at shutdown)' : '';
  const end = cp ? `; last checkpoint at seq ${cp.seq}, signed ${new Date(cp.timeMs).toISOString()}${unsigned}` : none;
  return `OK: ${range}, ${result.checkpoints} signed checkpoints verified${gaps}${end}`;
}
