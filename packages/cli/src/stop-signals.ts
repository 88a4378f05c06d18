/**
 * Ctrl-C (SIGINT), SIGTERM (what schedulers and containers send) and SIGHUP (a closed terminal) ask a long command
 * to stop at its next safe point (`stop` is aborted); the exit code is then 128 + the signal (130, 143, 129). A second
 * signal exits at once.
 */
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export interface StopSignals {
  /** 128 + the first signal received (130 when none was). */
  exitCode(): number;
  /** Removes the handlers. */
  dispose(): void;
}

/**
 * @param onFirst what the first signal does, said after "ortrl: Ctrl-C: " (e.g. "stopping after the current step").
 * @param onSecond what a second signal does, said after "ortrl: SIGINT again: " before exiting at once.
 */
export function handleStopSignals(stop: AbortController, onFirst: string, onSecond: string): StopSignals {
  let first: NodeJS.Signals | null = null;
  const code = (s: NodeJS.Signals) => ({ SIGTERM: 143, SIGHUP: 129 })[s as string] ?? 130;
  const name = (s: NodeJS.Signals) => (s === "SIGINT" ? "Ctrl-C" : s);
  const on = (signal: NodeJS.Signals) => {
    if (first) {
      process.stderr.write(`ortrl: ${signal} again: ${onSecond}\n`);
      process.exit(code(signal));
    }
    first = signal;
    stop.abort();
    process.stderr.write(`ortrl: ${name(signal)}: ${onFirst.replaceAll("SIGNAL", name(signal))}\n`);
  };
  for (const s of STOP_SIGNALS) process.on(s, on);
  return {
    exitCode: () => code(first ?? "SIGINT"),
    dispose: () => {
      for (const s of STOP_SIGNALS) process.off(s, on);
    },
  };
}
