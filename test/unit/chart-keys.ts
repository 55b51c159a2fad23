/**
 * Every values key path this program may set, per pinned chart, each checked by hand against that
 * chart's own values.yaml and templates (commit named per chart). None of the charts rejects an unknown
 * key (REFERENCE §1), so this list is what catches a misspelt one: a leaf path the program produces that
 * is not listed here fails the tests. Arrays appear as `[]`.
 */

/** bitnami/postgresql 15.5.38, bitnami/charts commit 105fcbb5, bitnami/postgresql/values.yaml. */
export const POSTGRESQL_KEYS = [
  "fullnameOverride",
  "image.registry",
  "image.repository",
  "image.tag",
  "auth.enablePostgresUser",
  "auth.username",
  "auth.database",
  "auth.existingSecret",
  "auth.secretKeys.adminPasswordKey",
  "auth.secretKeys.userPasswordKey",
  "auth.secretKeys.replicationPasswordKey",
  "architecture",
  "postgresqlSharedPreloadLibraries",
  "primary.initdb.args",
  "primary.extendedConfiguration",
  "primary.resources.requests.cpu",
  "primary.resources.requests.memory",
  "primary.resources.limits.cpu",
  "primary.resources.limits.memory",
  "primary.persistence.enabled",
  "primary.persistence.size",
  "primary.persistence.storageClass",
  "primary.networkPolicy.enabled",
  "readReplicas.replicaCount",
  "readReplicas.resources.requests.cpu",
  "readReplicas.resources.requests.memory",
  "readReplicas.resources.limits.cpu",
  "readReplicas.resources.limits.memory",
  "readReplicas.persistence.enabled",
  "readReplicas.persistence.size",
  "readReplicas.persistence.storageClass",
  "readReplicas.networkPolicy.enabled",
  "volumePermissions.image.registry",
  "volumePermissions.image.repository",
  "volumePermissions.image.tag",
  "metrics.enabled",
  "metrics.image.registry",
  "metrics.image.repository",
  "metrics.image.tag",
  "metrics.serviceMonitor.enabled",
  "metrics.serviceMonitor.labels",
];
