/**
 * Progress lines from the initialisers. Pulumi shows a dynamic provider's stderr in verbose logs only,
 * so each initialiser also returns its steps in its outputs (`log`), which `pulumi up` prints in the diff.
 */
export function progress(resource: string): { log: (line: string) => void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log(line: string) {
      lines.push(line);
      process.stderr.write(`[${resource}] ${line}\n`);
    },
  };
}
