/**
 * Kubernetes quantities and the other value formats stack config accepts, with parsers that the
 * derived settings (PostgreSQL memory, Redis maxmemory, Kafka heap) and the validation share.
 */
import { z } from "zod";

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

/** Bytes in a memory or storage quantity (`512Mi`, `1G`, `1073741824`); undefined when malformed. */
export function parseBytes(quantity: string): number | undefined {
  const m = QUANTITY.exec(quantity);
  if (!m) return undefined;
  const unit = m[2];
  const factor = unit === undefined ? 1 : (BINARY[unit] ?? DECIMAL[unit]);
  return Math.floor(Number(m[1]) * factor);
}

/** Millicores in a CPU quantity (`500m`, `2`, `1.5`); undefined when malformed. */
export function parseMillicores(quantity: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m)?$/.exec(quantity);
  if (!m) return undefined;
  return m[2] ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

/** A storage size: binary units only, because `20GB` is a common mistake that Kubernetes rejects late. */
export const binaryQuantity = z.string().superRefine((v, ctx) => {
  if (!/^[1-9][0-9]*(Mi|Gi|Ti)$/.test(v)) {
    const hint = /^(\d+)\s*([MGT])B?$/i.exec(v);
    ctx.addIssue({
      code: "custom",
      message: hint
        ? `"${v}" is not a Kubernetes quantity; write ${hint[1]}${hint[2].toUpperCase()}i`
        : `"${v}" is not a storage size; use a whole number with Mi, Gi or Ti, such as 20Gi`,
    });
  }
});

/** A memory amount, for requests and limits. */
export const memoryQuantity = z.string().superRefine((v, ctx) => {
  const bytes = parseBytes(v);
  if (bytes === undefined || bytes <= 0) {
    const hint = /^(\d+)\s*([KMGT])B$/i.exec(v);
    ctx.addIssue({
      code: "custom",
      message: hint
        ? `"${v}" is not a Kubernetes quantity; write ${hint[1]}${hint[2].toUpperCase()}i`
        : `"${v}" is not a memory quantity; use a number with Mi or Gi, such as 512Mi`,
    });
  }
});

/** A CPU amount, for requests and limits. */
export const cpuQuantity = z.string().refine((v) => (parseMillicores(v) ?? 0) > 0, {
  message: "is not a CPU quantity; use cores (1, 0.5) or millicores (500m)",
});

/** Five-field cron expression, the syntax of a Kubernetes CronJob. */
export const cronSchedule = z
  .string()
  .regex(
    /^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$/,
    "is not a cron schedule; use five fields such as '0 2 * * *'",
  );

/** A DNS-1123 label: namespaces and object names. */
export const k8sName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    "is not a Kubernetes name (lower-case letters, digits, '-')",
  );

/** Label keys and values as Kubernetes accepts them. */
export const k8sLabelMap = z.record(
  z.string().regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, "is not a label key"),
  z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, "is not a label value"),
);
