/**
 * Mandatory: every container image is pinned by a tag or a digest, in every release (chart defaults
 * included: the Weaviate chart's sysctl init container is `alpine:latest`) and in every workload the
 * program creates (its backup CronJobs). A moving tag changes what runs without a change in the stack.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, HelmRelease } from "../lib/charts";
import { str } from "../lib/values";
import { containersIn, releaseImages, splitReference, unpinnedReason } from "../lib/workloads";

/** Problems with the images of a Helm release, `path: why` each. */
function releaseImageProblems(r: HelmRelease): string[] {
  const out: string[] = [];
  for (const img of releaseImages(r)) {
    const why = unpinnedReason(img.tag, img.digest);
    if (why) out.push(`${img.path} ${img.defaultTag ? "(chart default) " : ""}${img.reference} ${why}`);
  }
  return out;
}

/** Problems with the images of a Kubernetes workload (Pod, Deployment, StatefulSet, Job, CronJob, ...). */
function workloadImageProblems(props: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const c of containersIn(props)) {
    const image = str(c.container.image);
    if (image === undefined) {
      out.push(`${c.path} has no image`);
      continue;
    }
    const { tag, digest } = splitReference(image);
    const why = unpinnedReason(tag, digest);
    if (why) out.push(`${c.path}.image ${image} ${why}`);
  }
  return out;
}

export const pinnedImages: ResourceValidationPolicy = {
  name: "pinned-images",
  description:
    "Every container image is pinned by a tag or a digest: no image without a tag and no moving tag " +
    "(`latest`, `stable`, `edge`, ...), in each Helm release's values with the chart's defaults applied " +
    "(including init containers and sidecars) and in every workload the stack creates. A moving tag " +
    "changes what runs on the next pod restart, unseen by `pulumi preview`. Fix: set the image's `tag` " +
    "(or `digest`) in the stack config (`<service>.images.<image>.tag`), or switch off the chart feature " +
    "that brings the image (Weaviate `initContainers.sysctlInitContainer.enabled: false`).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (r) {
      for (const p of releaseImageProblems(r)) reportViolation(`${r.label}: values.${p}.`);
    } else if (args.type.startsWith("kubernetes:")) {
      for (const p of workloadImageProblems(args.props)) reportViolation(`${p}.`);
    }
  },
};
