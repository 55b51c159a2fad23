/**
 * Labels that are a contract between the program and the policy pack: the program puts them on what it
 * creates (components/shared/labels.ts), the pack finds a release's backup job by them. One definition,
 * so the two cannot drift apart.
 */

/** Label every backup pod carries, with the service it backs up as value. */
export const BACKUP_LABEL = "ai-platform.io/backup-for";

/** Label every restore-drill pod carries, with the service whose backups it restores as value. */
export const DRILL_LABEL = "ai-platform.io/drill-for";

/** Label of every object that belongs to a release, with the release's name as value. */
export const RELEASE_LABEL = "ai-platform.io/release";
