/** Labels shared by the objects this program creates, so NetworkPolicies and policies can select them. */
import { BACKUP_LABEL, DRILL_LABEL, RELEASE_LABEL } from "../../policies/lib/labels";

export { BACKUP_LABEL, DRILL_LABEL };

/** Standard labels for an object that belongs to a service's release. */
export function serviceLabels(service: string, releaseName: string): Record<string, string> {
  return {
    "app.kubernetes.io/part-of": "ai-platform-data",
    "app.kubernetes.io/managed-by": "pulumi",
    "ai-platform.io/service": service,
    [RELEASE_LABEL]: releaseName,
  };
}
