/** The seed's `system_logs` collection (§3.4) as the MongoDB tests declare it, unit and integration alike. */
import type { CollectionSpec } from "../../init/mongodb";

export const systemLogs: CollectionSpec = {
  name: "system_logs",
  indexes: [
    { keys: [["timestamp", 1]] },
    {
      keys: [
        ["level", 1],
        ["timestamp", 1],
      ],
    },
  ],
};
