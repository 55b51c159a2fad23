/**
 * The CrossGuard policy pack that gates every deployment of ai-platform-data:
 *
 *   pulumi preview --policy-pack policies --policy-pack-config policies/config/prod.json
 *
 * The policies live in `rules/` (one module each) so they can be tested without starting a pack.
 */
import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./rules";

new PolicyPack("ai-platform-data", {
  description: "Security, durability and availability rules for the AI platform's data layer on Kubernetes.",
  policies: allPolicies,
});
