/**
 * Points each service of the local stack's config copy at its unpacked published chart:
 * `node --import tsx scripts/local/chart-sources.ts <Pulumi.local.yaml copy> <folder of unpacked charts>`
 * sets `<service>.chart.source` to `<folder>/<chart name>` (the folder `tar` makes of each archive). The
 * committed Pulumi.local.yaml stays as it is.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { PROJECT } from "../../config";
import { CHARTS, pinnedChartName } from "../../components/shared/charts";

/** Config key of each chart's service (the chart `postgresql` is the service `postgres`). */
const SERVICES: Record<keyof typeof CHARTS, string> = {
  postgresql: "postgres",
  mongodb: "mongodb",
  redis: "redis",
  kafka: "kafka",
  weaviate: "weaviate",
};

const [file, folder] = process.argv.slice(2);
if (!file || !folder) throw new Error("usage: chart-sources.ts <stack config file> <charts folder>");
const doc = parseDocument(fs.readFileSync(file, "utf8"));
for (const [chart, service] of Object.entries(SERVICES)) {
  const dir = path.join(folder, pinnedChartName(CHARTS[chart as keyof typeof CHARTS]));
  if (!fs.existsSync(path.join(dir, "Chart.yaml"))) throw new Error(`no unpacked chart in ${dir}`);
  doc.setIn(["config", `${PROJECT}:${service}`, "chart"], doc.createNode({ source: dir }));
}
fs.writeFileSync(file, doc.toString());
