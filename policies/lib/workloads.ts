/**
 * The containers a stack runs, as the policies see them: the images each pinned chart renders (the
 * values' overrides over the chart's own defaults), the containers a chart runs privileged by itself, and
 * the containers of the Kubernetes workloads the program registers (its backup CronJobs). Chart defaults
 * read at bitnami/charts 105fcbb5 (postgresql 15.5.38), 5b4515c8 (mongodb 13.18.5), b2beb14f (redis
 * 17.17.1), 97df6fc2 (kafka 26.11.4) and weaviate-helm v16.8.0, each chart's `values.yaml` and templates.
 */
import { HelmRelease, Service } from "./charts";
import { bool, formatPath, get, isObject, JsonObject, leaves, objects, str } from "./values";

/** The resource types of a CronJob (batch/v1, and v1beta1 of older clusters). */
export const CRONJOB_TYPES = new Set(["kubernetes:batch/v1:CronJob", "kubernetes:batch/v1beta1:CronJob"]);

/** Keys holding container lists: pod specs, and chart values' raw container lists. */
const CONTAINER_LISTS = [
  "containers",
  "initContainers",
  "ephemeralContainers",
  "sidecars",
  "extraInitContainers",
  "extraContainers",
];

/** A container spec found in a resource or in chart values. */
export interface ContainerAt {
  /** Path of the container (`spec.jobTemplate.spec.template.spec.containers[0]`). */
  path: string;
  container: JsonObject;
}

/** Every container spec (`{name, image, ...}`) in a list under one of the container-list keys. */
export function containersIn(root: unknown): ContainerAt[] {
  const out: ContainerAt[] = [];
  for (const { path, value } of objects(root)) {
    for (const list of CONTAINER_LISTS) {
      const items = value[list];
      if (!Array.isArray(items)) continue;
      items.forEach((c: unknown, i) => {
        if (isObject(c)) out.push({ path: formatPath([...path, list, String(i)]), container: c });
      });
    }
  }
  return out;
}

/** Tags that publishers move on purpose: they name a channel, not a build. */
const ROLLING_TAGS = new Set([
  "latest",
  "stable",
  "edge",
  "main",
  "master",
  "nightly",
  "dev",
  "develop",
  "current",
  "lts",
  "rolling",
  "mainline",
]);

/** The tag and digest of an image reference (`registry:5000/repo/name:tag@sha256:...`). */
export function splitReference(ref: string): { tag?: string; digest?: string } {
  const [withoutDigest, digest] = ref.split("@", 2);
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", lastSlash + 1);
  return { tag: colon >= 0 ? withoutDigest.slice(colon + 1) : undefined, digest };
}

/**
 * Why an image with this tag and digest is not pinned, or `undefined` when it is: a digest always pins;
 * otherwise a tag must be set and not one of the rolling channel names. A tag name cannot prove that its
 * publisher never moves it (`pg16`-style tags move too): pin by digest for byte-identical images.
 */
export function unpinnedReason(tag: string | undefined, digest: string | undefined): string | undefined {
  if (digest) return /^sha256:[0-9a-f]{64}$/.test(digest) ? undefined : `has a malformed digest "${digest}"`;
  if (!tag) return "has no tag (the registry serves `latest`)";
  if (ROLLING_TAGS.has(tag.toLowerCase())) return `uses the moving tag "${tag}"`;
  return undefined;
}

/** An image block a chart renders, with the chart's default for every part the values leave unset. */
interface ImageSlot {
  /** Values path of the block. */
  path: string;
  /** Name of the repository key: Bitnami `repository`, Weaviate `repo`. */
  repoKey: "repository" | "repo";
  registry: string;
  repository: string;
  tag: string;
  /** A values switch that must be on for the image to run, with the chart's default. */
  when?: { path: string; default: boolean };
}

function bitnami(path: string, repository: string, tag: string): ImageSlot {
  return { path, repoKey: "repository", registry: "docker.io", repository: `bitnami/${repository}`, tag };
}

function weaviateModule(module: string, repository: string, tag: string): ImageSlot {
  const path = `modules.${module}`;
  return {
    path,
    repoKey: "repo",
    registry: "docker.io",
    repository: `semitechnologies/${repository}`,
    tag,
    when: { path: `${path}.enabled`, default: false },
  };
}

/** Every image slot of the five pinned charts, with its default (values.yaml of each pinned version). */
const CHART_IMAGES: Record<Service, ImageSlot[]> = {
  postgresql: [
    bitnami("image", "postgresql", "16.4.0-debian-12-r14"),
    bitnami("volumePermissions.image", "os-shell", "12-debian-12-r30"),
    bitnami("metrics.image", "postgres-exporter", "0.15.0-debian-12-r43"),
  ],
  mongodb: [
    bitnami("image", "mongodb", "6.0.10-debian-11-r8"),
    bitnami("tls.image", "nginx", "1.25.2-debian-11-r32"),
    bitnami("externalAccess.autoDiscovery.image", "kubectl", "1.25.14-debian-11-r5"),
    bitnami("volumePermissions.image", "os-shell", "11-debian-11-r72"),
    bitnami("metrics.image", "mongodb-exporter", "0.39.0-debian-11-r106"),
  ],
  redis: [
    bitnami("image", "redis", "7.0.12-debian-11-r34"),
    bitnami("sentinel.image", "redis-sentinel", "7.0.12-debian-11-r0"),
    bitnami("metrics.image", "redis-exporter", "1.52.0-debian-11-r25"),
    bitnami("volumePermissions.image", "os-shell", "11-debian-11-r45"),
    bitnami("sysctl.image", "os-shell", "11-debian-11-r45"),
  ],
  kafka: [
    bitnami("image", "kafka", "3.6.1-debian-12-r12"),
    bitnami("externalAccess.autoDiscovery.image", "kubectl", "1.29.2-debian-12-r2"),
    bitnami("volumePermissions.image", "os-shell", "12-debian-12-r16"),
    bitnami("metrics.kafka.image", "kafka-exporter", "1.7.0-debian-12-r19"),
    bitnami("metrics.jmx.image", "jmx-exporter", "0.20.0-debian-12-r11"),
  ],
  weaviate: [
    {
      path: "image",
      repoKey: "repo",
      registry: "docker.io",
      repository: "semitechnologies/weaviate",
      tag: "1.22.5",
    },
    {
      path: "initContainers.sysctlInitContainer.image",
      repoKey: "repo",
      registry: "docker.io",
      repository: "alpine",
      tag: "latest",
      when: { path: "initContainers.sysctlInitContainer.enabled", default: true },
    },
    weaviateModule("text2vec-contextionary", "contextionary", "en0.16.0-v1.2.1"),
    weaviateModule(
      "text2vec-transformers",
      "transformers-inference",
      "sentence-transformers-paraphrase-multilingual-MiniLM-L12-v2",
    ),
    weaviateModule("text2vec-gpt4all", "gpt4all-inference", "all-MiniLM-L6-v2"),
    weaviateModule("multi2vec-clip", "multi2vec-clip", "sentence-transformers-clip-ViT-B-32-multilingual-v1"),
    weaviateModule("multi2vec-bind", "multi2vec-bind", "imagebind"),
    weaviateModule(
      "qna-transformers",
      "qna-transformers",
      "bert-large-uncased-whole-word-masking-finetuned-squad",
    ),
    weaviateModule("img2vec-neural", "img2vec-pytorch", "resnet50"),
    weaviateModule("reranker-transformers", "reranker-transformers", "cross-encoder-ms-marco-MiniLM-L-6-v2"),
    weaviateModule("text-spellcheck", "text-spellcheck-model", "pyspellchecker-en"),
    weaviateModule(
      "ner-transformers",
      "ner-transformers",
      "dbmdz-bert-large-cased-finetuned-conll03-english",
    ),
    weaviateModule("sum-transformers", "sum-transformers", "facebook-bart-large-cnn"),
  ],
};

/** An image a release runs. */
export interface ReleaseImage {
  /** Where it comes from: a values path of an image block, or a container spec in the values. */
  path: string;
  /** `registry/repository:tag@digest` as rendered. */
  reference: string;
  tag?: string;
  digest?: string;
  /** True when the tag is the chart's default (the values leave it unset). */
  defaultTag: boolean;
}

/** Every image the release renders: its chart's image slots, other image blocks, raw container specs. */
export function releaseImages(r: HelmRelease): ReleaseImage[] {
  const v = r.values;
  const out: ReleaseImage[] = [];
  const slots = r.service ? CHART_IMAGES[r.service] : [];
  for (const s of slots) {
    if (s.when && !bool(get(v, s.when.path), s.when.default)) continue;
    const block = get(v, s.path);
    const set = (k: string) => (isObject(block) ? str(block[k]) : undefined);
    const tag = set("tag");
    const digest = set("digest");
    const reference = `${set("registry") ?? s.registry}/${set(s.repoKey) ?? s.repository}:${tag ?? s.tag}`;
    out.push({
      path: s.path,
      reference: digest ? `${reference}@${digest}` : reference,
      tag: tag ?? s.tag,
      digest,
      defaultTag: tag === undefined,
    });
  }
  // Image blocks of charts or paths the table does not know: judged by what the values say alone.
  const known = new Set(slots.map((s) => s.path));
  for (const { path, value } of objects(v)) {
    const p = formatPath(path);
    if (known.has(p) || CONTAINER_LISTS.includes(path[path.length - 2] ?? "")) continue;
    const repo = str(value.repository) ?? str(value.repo);
    if (!repo || !/image$/i.test(path[path.length - 1] ?? "")) continue;
    const tag = str(value.tag);
    const digest = str(value.digest);
    out.push({
      path: p,
      reference: [str(value.registry), repo].filter(Boolean).join("/") + (tag ? `:${tag}` : ""),
      tag,
      digest,
      defaultTag: false,
    });
  }
  for (const c of containersIn(v)) {
    const image = str(c.container.image);
    if (!image) continue;
    out.push({ path: `${c.path}.image`, reference: image, ...splitReference(image), defaultTag: false });
  }
  return out;
}

/** A container a chart runs privileged by itself when a values switch is on. */
interface PrivilegedSwitch {
  /** The switch, with the chart's default. */
  path: string;
  default: boolean;
  /** The container the chart renders with `privileged: true`. */
  container: string;
}

/** weaviateStatefulset.yaml (`configure-sysctl`); redis sentinel/ and replicas/ statefulsets (`init-sysctl`). */
const PRIVILEGED_SWITCHES: Partial<Record<Service, PrivilegedSwitch[]>> = {
  weaviate: [
    { path: "initContainers.sysctlInitContainer.enabled", default: true, container: "configure-sysctl" },
  ],
  redis: [{ path: "sysctl.enabled", default: false, container: "init-sysctl" }],
};

/** Why the release runs a privileged container: a chart switch that is on, or `privileged: true` in values. */
export function privilegedInRelease(r: HelmRelease): string[] {
  const v = r.values;
  const out: string[] = [];
  for (const s of (r.service && PRIVILEGED_SWITCHES[r.service]) || []) {
    const value = get(v, s.path);
    if (bool(value, s.default)) {
      const how =
        value === undefined ? `leaves ${s.path} unset (the chart's default is on)` : `sets ${s.path}`;
      out.push(`${how}: the chart runs container "${s.container}" privileged`);
    }
  }
  for (const { path, value } of leaves(v)) {
    if (path[path.length - 1] === "privileged" && bool(value, false)) {
      out.push(`sets ${formatPath(path)} to true`);
    }
  }
  return out;
}

/** Why a workload's containers run privileged, one line per container. */
export function privilegedInWorkload(props: JsonObject): string[] {
  return containersIn(props)
    .filter((c) => bool(get(c.container, "securityContext.privileged"), false))
    .map((c) => `${c.path} (${str(c.container.name) ?? "unnamed"}) sets securityContext.privileged`);
}
