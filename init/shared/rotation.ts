/**
 * Logging in while the initialiser's own password is being rotated. The new password reaches the
 * program (a new generated value, a Secret kept by Vault) before it reaches the server, which only
 * changes it when told: the initialiser itself, in the run that brings the new value. So that run
 * logs in with the previous password, which the server still has, and sets the new one.
 */

/** How {@link loginRotating} got in. */
export interface RotatingLogin<C> {
  client: C;
  /** True when only the previous password worked: the caller now sets the new one on the server. */
  withPrevious: boolean;
}

/**
 * Logs in with `current`; when the server refuses it as a wrong password and `previous` is another
 * password, logs in with that. Any other failure, or a refusal of both, is thrown as it came (the
 * caller's retry decides whether to try again).
 */
export async function loginRotating<C>(
  current: string,
  previous: string | undefined,
  login: (password: string) => Promise<C>,
  isWrongPassword: (e: unknown) => boolean,
): Promise<RotatingLogin<C>> {
  try {
    return { client: await login(current), withPrevious: false };
  } catch (e) {
    if (!previous || previous === current || !isWrongPassword(e)) throw e;
    try {
      return { client: await login(previous), withPrevious: true };
    } catch (again) {
      // The current password's refusal is the one to report: it is the one config asks for.
      throw isWrongPassword(again) ? e : again;
    }
  }
}
