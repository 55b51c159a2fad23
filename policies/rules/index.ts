/**
 * Every policy of the pack, grouped by how it is enforced. `../index.ts` builds the pack from
 * {@link allPolicies}; tests import the policies from here without starting a pack.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

export type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { atomicRelease } from "./atomic-release";
import { podAntiAffinity, podDisruptionBudgets } from "./availability";
import { databaseAuthentication } from "./authentication";
import { backupCronJob } from "./backup";
import { chartVersionPinned } from "./chart-version";
import { noLiteralCredentials } from "./credentials";
import { noExternalServices } from "./exposure";
import { hardenedBackupPods } from "./hardened-backup";
import { kafkaAuthorizer } from "./kafka-authorizer";
import { kafkaReplication } from "./kafka-replication";
import { mongodbReplicaSet } from "./mongodb-replica-set";
import { persistentStorage } from "./persistence";
import { pinnedImages } from "./pinned-images";
import { offsiteBackups } from "./offsite-backup";
import { noPrivilegedContainers } from "./privileged";
import { redisSentinelHa } from "./redis-sentinel";
import { restoreDrills } from "./restore-drill";
import { databaseResources } from "./resources";
import { saslPlainWithoutTls } from "./sasl-plain-tls";
import { ssdStorageClass } from "./ssd-storage-class";
import { weaviateAppKeyReadOnly } from "./weaviate-app-key";

export type AnyPolicy = ResourceValidationPolicy | StackValidationPolicy;

/** Enforced on every stack. */
export const mandatoryPolicies: AnyPolicy[] = [
  databaseAuthentication,
  noLiteralCredentials,
  persistentStorage,
  databaseResources,
  chartVersionPinned,
  noExternalServices,
  backupCronJob,
  pinnedImages,
  noPrivilegedContainers,
];

/** Off by default; a stack's policy config switches them on (`config/prod.json`). */
export const productionPolicies: AnyPolicy[] = [
  mongodbReplicaSet,
  redisSentinelHa,
  kafkaReplication,
  podAntiAffinity,
  podDisruptionBudgets,
  hardenedBackupPods,
  kafkaAuthorizer,
  weaviateAppKeyReadOnly,
  offsiteBackups,
  restoreDrills,
];

/** Warnings only. */
export const advisoryPolicies: AnyPolicy[] = [ssdStorageClass, saslPlainWithoutTls, atomicRelease];

export const allPolicies: AnyPolicy[] = [...mandatoryPolicies, ...productionPolicies, ...advisoryPolicies];

export {
  atomicRelease,
  backupCronJob,
  chartVersionPinned,
  databaseAuthentication,
  databaseResources,
  hardenedBackupPods,
  kafkaAuthorizer,
  kafkaReplication,
  mongodbReplicaSet,
  noExternalServices,
  noLiteralCredentials,
  noPrivilegedContainers,
  offsiteBackups,
  persistentStorage,
  pinnedImages,
  podAntiAffinity,
  podDisruptionBudgets,
  redisSentinelHa,
  restoreDrills,
  saslPlainWithoutTls,
  ssdStorageClass,
  weaviateAppKeyReadOnly,
};
