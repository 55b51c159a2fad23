/** The progress lines initialisers write to this process's stderr, as tests watch them. */

/** Captures the provider's progress lines on stderr while `fn` runs. */
export async function stderrOf(fn: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return lines.join("");
}

/** Resolves when this process writes a line to stderr that matches `re` (the providers' progress). */
export function stderrLine(re: RegExp): { seen: Promise<string>; stop: () => void } {
  const original = process.stderr.write.bind(process.stderr);
  let resolve: (line: string) => void = () => undefined;
  const seen = new Promise<string>((r) => (resolve = r));
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (re.test(text)) resolve(text);
    return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  return { seen, stop: () => (process.stderr.write = original) };
}

/**
 * Runs `fn`, which must fail, and returns its error after checking that it failed at once: no attempt was
 * retried (no "retrying in" progress line) and the message is not the deadline's ("after N attempts").
 * Judged by what the provider did, not by how long it took, so a busy machine cannot fail it.
 */
export async function failsAtOnce(fn: () => Promise<unknown>): Promise<Error> {
  let error: Error | undefined;
  const progress = await stderrOf(() =>
    fn().then(
      () => undefined,
      (e: Error) => void (error = e),
    ),
  );
  if (!error) throw new Error("expected a failure, and the call succeeded");
  if (/retrying in/.test(progress)) throw new Error(`retried instead of failing at once:\n${progress}`);
  if (/after \d+ attempts?/.test(error.message)) throw new Error(`failed at the deadline: ${error.message}`);
  return error;
}
