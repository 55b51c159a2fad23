/**
 * pgvector for the Bitnami PostgreSQL server, without a hand-built image (issue 8, item 7). Bitnami's image
 * has no `vector` extension (bitnami/containers#32677); the `pgvector/pgvector` image is the official
 * PostgreSQL image with it installed. Two init containers put the extension where the server looks:
 *
 * 1. `pgvector-extension-dir`, from the server's own image: copies the image's whole extension directory
 *    (`/opt/bitnami/postgresql/share/extension`) into an emptyDir. PostgreSQL 16 reads control files and
 *    scripts from that one directory only (`extension_control_path` arrived in 18), so a volume mounted
 *    there must hold everything the image had.
 * 2. `pgvector`, from `postgres.images.pgvector`: adds `vector.control` and every `vector--*.sql` (the
 *    install script and the upgrade paths, whatever the version) to that copy, and `vector.so` beside it.
 *
 * The server container mounts the copy over its extension directory, and `vector.so` alone (subPath) into
 * its library directory `/opt/bitnami/postgresql/lib` (`$libdir`, which `module_pathname = '$libdir/vector'`
 * names): that directory holds the server's own modules, so it is never shadowed. The root filesystem stays
 * read-only (the chart's `readOnlyRootFilesystem`); nothing is written into the image.
 *
 * Paths: Bitnami's server is unpacked under `/opt/bitnami/postgresql` (bitnami/containers
 * `bitnami/postgresql/16/debian-12/Dockerfile`); pgvector's Dockerfile runs `make install` in the official
 * `postgres:<major>` image, whose `pg_config` puts modules in `/usr/lib/postgresql/<major>/lib` and
 * extension files in `/usr/share/postgresql/<major>/extension`. pgvector's `-pg16` tags without an OS suffix
 * are its Debian bookworm builds (pgvector README, "Docker"), the Debian of Bitnami's `debian-12` server, so
 * `vector.so` finds the same C library; pgvector builds them with `OPTFLAGS=""`, without `-march=native`.
 */
import { ImageConfig, PostgresConfig } from "../../config";
import { bitnamiImage, CHARTS, imageValues } from "./charts";

/** The server image's tag in bitnami/postgresql 15.5.38 (`image.tag`); the backup job runs it too. */
export const POSTGRESQL_IMAGE_TAG = "16.4.0-debian-12-r14";

/** PostgreSQL major version of the pinned chart (16.4.0): the extension must be built for it. */
const POSTGRESQL_MAJOR = Number(CHARTS.postgresql.appVersion.split(".")[0]);

/** The pgvector image when `postgres.images.pgvector` leaves a part unset. */
const PGVECTOR_IMAGE = { registry: "docker.io", repository: "pgvector/pgvector", tag: "0.8.0-pg16" };

/** Bitnami's PostgreSQL directories (`pg_config --pkglibdir`, `--sharedir` + `/extension`). */
const BITNAMI_PG_DIRS = {
  lib: "/opt/bitnami/postgresql/lib",
  extension: "/opt/bitnami/postgresql/share/extension",
};

/** The official image's directories for a major version. */
function officialPgDirs(major: number): { lib: string; extension: string } {
  return { lib: `/usr/lib/postgresql/${major}/lib`, extension: `/usr/share/postgresql/${major}/extension` };
}

const VOLUME = "pgvector";
/** Where the init containers see the emptyDir. */
const STAGE = "/pgvector";

/** A tag that names its pgvector version and PostgreSQL major: `0.8.0-pg16`, `0.8.1-pg16-bookworm`. */
const PGVECTOR_TAG = /^(\d+\.\d+\.\d+)-pg(\d+)(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$/;

/** A full image reference from an override, defaults for the unset parts. */
function reference(
  override: ImageConfig | undefined,
  defaults: { registry: string; repository: string; tag: string },
): string {
  const v = imageValues(override, defaults);
  return `${v.registry}/${v.repository}:${v.tag ?? defaults.tag}`;
}

/** The server image, as the chart runs it (`postgres.images.postgresql` over Bitnami's moved image). */
function postgresqlImageRef(override: ImageConfig | undefined): string {
  return reference(override, { ...bitnamiImage(undefined, "postgresql"), tag: POSTGRESQL_IMAGE_TAG });
}

/** The pgvector image reference. */
function pgvectorImageRef(override: ImageConfig | undefined): string {
  return reference(override, PGVECTOR_IMAGE);
}

/** The PostgreSQL major a pgvector tag is built for (`0.8.0-pg16`: 16), the chart's when it names none. */
function pgvectorMajor(tag: string | undefined): number {
  const m = PGVECTOR_TAG.exec(tag ?? PGVECTOR_IMAGE.tag);
  return m ? Number(m[2]) : POSTGRESQL_MAJOR;
}

/**
 * Why `helm` mode would start a server without pgvector, or with one built for another major version;
 * empty when the config has a working pgvector source. Checked before any resource is registered.
 */
export function pgvectorConfigProblems(config: Pick<PostgresConfig, "pgvectorSource" | "images">): string[] {
  const key = "ai-platform-data:postgres";
  const server = config.images.postgresql;
  if (config.pgvectorSource === "postgresqlImage") {
    if (
      server.repository === undefined ||
      server.repository === bitnamiImage(undefined, "postgresql").repository
    ) {
      return [
        `${key}.pgvectorSource: "postgresqlImage" needs postgres.images.postgresql.repository set to your image with pgvector; Bitnami's image has no vector extension (bitnami/containers#32677). Set the image, or use pgvectorSource "initContainer" (the default)`,
      ];
    }
    return [];
  }
  const tag = config.images.pgvector.tag ?? PGVECTOR_IMAGE.tag;
  const m = PGVECTOR_TAG.exec(tag);
  if (!m) {
    return [
      `${key}.images.pgvector.tag: "${tag}" does not name a pgvector version and a PostgreSQL major (<version>-pg<major>, such as ${PGVECTOR_IMAGE.tag}); a rolling tag like "pg16" or "latest" changes the extension under a running server`,
    ];
  }
  const serverMajor = server.tag
    ? Number(/^(\d+)\./.exec(server.tag)?.[1] ?? POSTGRESQL_MAJOR)
    : POSTGRESQL_MAJOR;
  if (Number(m[2]) !== serverMajor) {
    return [
      `${key}.images.pgvector.tag: "${tag}" is built for PostgreSQL ${m[2]}, the server is PostgreSQL ${serverMajor}; the server refuses a module built for another major version. Use a -pg${serverMajor} tag (${m[1]}-pg${serverMajor})`,
    ];
  }
  return [];
}

/** The security context of both init containers: the chart's own for its containers, spelled out. */
const INIT_SECURITY_CONTEXT = {
  runAsUser: 1001,
  runAsGroup: 1001,
  runAsNonRoot: true,
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** They copy a few megabytes once per pod start. */
const INIT_RESOURCES = {
  requests: { cpu: "50m", memory: "32Mi" },
  limits: { cpu: "250m", memory: "128Mi" },
};

/** Values of one Bitnami PostgreSQL component (`primary`, `readReplicas`) that install pgvector. */
export interface PgvectorPodValues {
  initContainers: Record<string, unknown>[];
  extraVolumes: Record<string, unknown>[];
  extraVolumeMounts: Record<string, unknown>[];
}

/**
 * The init containers, the emptyDir and the server's mounts that bring pgvector in (see the file
 * comment); `undefined` when the server image ships it (`pgvectorSource: postgresqlImage`).
 */
export function pgvectorPodValues(
  config: Pick<PostgresConfig, "pgvectorSource" | "images">,
): PgvectorPodValues | undefined {
  if (config.pgvectorSource !== "initContainer") return undefined;
  const from = officialPgDirs(pgvectorMajor(config.images.pgvector.tag));
  const mount = { name: VOLUME, mountPath: STAGE };
  return {
    initContainers: [
      {
        name: "pgvector-extension-dir",
        image: postgresqlImageRef(config.images.postgresql),
        command: [
          "/bin/sh",
          "-ec",
          `mkdir -p ${STAGE}/extension ${STAGE}/lib\ncp -R ${BITNAMI_PG_DIRS.extension}/. ${STAGE}/extension/`,
        ],
        securityContext: INIT_SECURITY_CONTEXT,
        resources: INIT_RESOURCES,
        volumeMounts: [mount],
      },
      {
        name: "pgvector",
        image: pgvectorImageRef(config.images.pgvector),
        // `set -e` (sh -e): a missing file fails the pod instead of starting a server without the extension.
        command: [
          "/bin/sh",
          "-ec",
          [
            `cp ${from.lib}/vector.so ${STAGE}/lib/vector.so`,
            `cp ${from.extension}/vector.control ${from.extension}/vector--*.sql ${STAGE}/extension/`,
            `ls -l ${STAGE}/lib/vector.so ${STAGE}/extension/vector.control`,
          ].join("\n"),
        ],
        securityContext: INIT_SECURITY_CONTEXT,
        resources: INIT_RESOURCES,
        volumeMounts: [mount],
      },
    ],
    extraVolumes: [{ name: VOLUME, emptyDir: {} }],
    extraVolumeMounts: [
      { name: VOLUME, mountPath: BITNAMI_PG_DIRS.extension, subPath: "extension", readOnly: true },
      {
        name: VOLUME,
        mountPath: `${BITNAMI_PG_DIRS.lib}/vector.so`,
        subPath: "lib/vector.so",
        readOnly: true,
      },
    ],
  };
}

/**
 * The image of the restore drill, which restores a dump (it creates the `vector` extension) into a scratch
 * cluster: PostgreSQL 16 with pgvector. The pgvector image (the official image, whose tools run as its
 * `postgres` user, uid 999), unless the server image carries pgvector itself (`pgvectorSource:
 * postgresqlImage`, Bitnami's user 1001).
 */
export function pgvectorDrillImage(config: Pick<PostgresConfig, "pgvectorSource" | "images">): {
  image: string;
  runAsUser: number;
} {
  return config.pgvectorSource === "initContainer"
    ? { image: pgvectorImageRef(config.images.pgvector), runAsUser: 999 }
    : { image: postgresqlImageRef(config.images.postgresql), runAsUser: 1001 };
}
