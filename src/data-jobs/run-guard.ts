/**
 * What makes a data job (verify-backup, refresh-staging) leave nothing behind: every step that creates something
 * registers how to remove it, and `cleanup` removes it newest first on failure and on SIGINT/SIGTERM. A signal ends
 * the current wait at once (the wait is raced against it), so cleanup starts without waiting for a machine or a
 * cluster. What a hard kill leaves is found by name and metadata and removed by the next run.
 */

/** Thrown at the next step after a signal arrived. */
export class RunInterrupted extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
    this.name = "RunInterrupted";
  }
}

/** The part of `process` the guard needs; tests pass an EventEmitter. */
export interface SignalSource {
  on(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  off(signal: "SIGINT" | "SIGTERM", listener: () => void): unknown;
}

export interface RunGuard {
  /** Registers the removal of something this run created; returns a function that drops it (the run keeps it). */
  onCleanup(what: string, undo: () => Promise<unknown>): () => void;
  /** Throws RunInterrupted once a signal has arrived. */
  checkpoint(): void;
  /** Resolves with `p`, or rejects with RunInterrupted as soon as a signal arrives. */
  race<T>(p: Promise<T>): Promise<T>;
  /** Runs `p` to its end even if a signal arrives meanwhile (a `pulumi up` that must not be cut), then checks. */
  shielded<T>(p: () => Promise<T>): Promise<T>;
  /** Removes everything registered, newest first; returns what could not be removed. Uninstalls the handlers. */
  cleanup(log: (line: string) => void): Promise<string[]>;
  /** Uninstalls the signal handlers without cleaning up (the run finished). */
  done(): void;
}

export function createRunGuard(signals: SignalSource | undefined, log: (line: string) => void): RunGuard {
  const undos: Array<{ what: string; undo: () => Promise<unknown> }> = [];
  let interrupted: string | undefined;
  let shieldDepth = 0;
  let rejectRace: (err: Error) => void = () => undefined;
  let interruption = new Promise<never>((_r, reject) => (rejectRace = reject));
  interruption.catch(() => undefined);

  const handler = (signal: "SIGINT" | "SIGTERM") => () => {
    if (interrupted) {
      log(`${signal} again: cleanup is already running; anything it does not finish, the next run removes.`);
      return;
    }
    interrupted = signal;
    log(`${signal}: stopping after the current step, then removing what this run created.`);
    if (shieldDepth === 0) rejectRace(new RunInterrupted(signal));
  };
  const onInt = handler("SIGINT");
  const onTerm = handler("SIGTERM");
  signals?.on("SIGINT", onInt);
  signals?.on("SIGTERM", onTerm);
  const uninstall = () => {
    signals?.off("SIGINT", onInt);
    signals?.off("SIGTERM", onTerm);
  };

  const guard: RunGuard = {
    onCleanup(what, undo) {
      const entry = { what, undo };
      undos.push(entry);
      return () => {
        const i = undos.indexOf(entry);
        if (i >= 0) undos.splice(i, 1);
      };
    },
    checkpoint() {
      if (interrupted) throw new RunInterrupted(interrupted);
    },
    race(p) {
      guard.checkpoint();
      return Promise.race([p, interruption]);
    },
    async shielded(p) {
      shieldDepth++;
      try {
        return await p();
      } finally {
        shieldDepth--;
        if (interrupted && shieldDepth === 0) {
          interruption = Promise.reject(new RunInterrupted(interrupted));
          interruption.catch(() => undefined);
        }
      }
    },
    async cleanup(log) {
      const failed: string[] = [];
      for (const { what, undo } of undos.splice(0).reverse()) {
        try {
          await undo();
          log(`  removed ${what}`);
        } catch (err) {
          failed.push(`${what}: ${(err as Error).message}`);
        }
      }
      uninstall();
      return failed;
    },
    done: uninstall,
  };
  return guard;
}
