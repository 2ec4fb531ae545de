/**
 * Children started by the end-to-end harness, and the polling helper every e2e suite uses instead of sleeps.
 *
 *   const procs = new ProcessGroup();
 *   afterAll(() => procs.killAll());
 *   const nginx = procs.add(await startNginxRtmp({ applicationBlock }));
 *   const ffmpeg = procs.add(startPublisher(nginx.rtmpUrl('live') + '/good'));
 */

/** Anything the harness starts: a process (or process tree) that can be killed and reports its exit. */
export interface Managed {
  kill(signal?: NodeJS.Signals): void;
  readonly exited: Promise<unknown>;
  /** Stronger cleanup when plain kill is not enough (descendants, temp files); killAll prefers it. */
  dispose?(): Promise<void>;
  /** The same, synchronous, for when the test process exits without reaching killAll. */
  disposeSync?(): void;
}

/**
 * Kills every registered child in an afterAll even when a test failed half-way, and, as a last resort,
 * synchronously when the test process itself exits without reaching afterAll.
 */
export class ProcessGroup {
  readonly #members = new Set<Managed>();
  readonly #onExit = (): void => {
    for (const m of this.#members) {
      try {
        if (m.disposeSync) m.disposeSync();
        else m.kill('SIGKILL');
      } catch {
        /* best effort: the process is exiting */
      }
    }
  };
  #hooked = false;

  add<T extends Managed>(member: T): T {
    this.#members.add(member);
    if (!this.#hooked) {
      process.once('exit', this.#onExit);
      this.#hooked = true;
    }
    return member;
  }

  /** SIGKILLs (or disposes) every member and waits for each to be gone, `timeoutMs` at most per member. */
  async killAll(timeoutMs = 10_000): Promise<void> {
    const members = [...this.#members];
    this.#members.clear();
    if (this.#hooked) {
      process.removeListener('exit', this.#onExit);
      this.#hooked = false;
    }
    await Promise.all(
      members.map(async (m) => {
        if (m.dispose) return m.dispose();
        safeKill(m, 'SIGKILL');
        await withDeadline(m.exited, timeoutMs);
      }),
    );
  }
}

function safeKill(m: Managed, signal: NodeJS.Signals): void {
  try {
    m.kill(signal);
  } catch {
    /* already gone */
  }
}

/** Resolves with `p`'s value, or with undefined once `ms` have passed; never rejects. */
export async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitOptions {
  /** Give up after this long (default 20 s: generous, CI machines can be busy). */
  timeoutMs?: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns a truthy value and returns that value. A probe that throws counts as
 * "not yet"; the last error or value is quoted in the timeout message so a failure says what it saw.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
