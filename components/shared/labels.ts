/** Labels shared by the objects this program creates, so NetworkPolicies and policies can select them. */

/** Label every backup pod carries, with the service it backs up as value. */
export const BACKUP_LABEL = "ai-platform.io/backup-for";

/** Standard labels for an object that belongs to a service's release. */
export function serviceLabels(service: string, releaseName: string): Record<string, string> {
  return {
    "app.kubernetes.io/part-of": "ai-platform-data",
    "app.kubernetes.io/managed-by": "pulumi",
    "ai-platform.io/service": service,
    "ai-platform.io/release": releaseName,
  };
}
