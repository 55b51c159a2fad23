/**
 * MongoDB collections and indexes (seed §3.4) through the `mongodb` driver 6.x: missing collections and
 * indexes created, a changed TTL applied in place with `collMod`, an index removed from config dropped
 * only if this resource created it (`ownedIndexes`), collections never dropped unless an update removes
 * them from config with `dropRemovedCollections` set (never on delete). The application user is managed
 * here too (mongodb/app-user.ts). Every change is computed first as a list of commands by pure
 * functions (`planCollections`, `planIndexes`), then sent by mongodb/apply.ts, batched where MongoDB
 * takes a batch (one `createIndexes` per collection).
 */
import * as pulumi from "@pulumi/pulumi";
import { MongoCollectionsProvider } from "./mongodb/provider";
import { CollectionSpec, OwnedIndex } from "./mongodb/spec";
import type { MongoRole } from "./mongodb/app-user";
import { initialiserOptions } from "./shared/options";
import { ForwardSpec } from "./shared/port-forward";
import { codeVersion } from "./shared/version";

export { applyOps, batchOps, commandFor, partialOwned } from "./mongodb/apply";
export type { AppliedOps, CommandDb, OpsFailed } from "./mongodb/apply";
export * from "./mongodb/plan";
export { MongoCollectionsProvider } from "./mongodb/provider";
export * from "./mongodb/spec";

/** Arguments of {@link MongoCollections}. */
export interface MongoCollectionsArgs {
  /** Seed list, `host:port` each (the component's `connection.hosts`). */
  hosts: pulumi.Input<string[]>;
  /** Replica set name; unset for a standalone server or a direct connection. */
  replicaSet?: pulumi.Input<string | undefined>;
  /** Talk to the one seed host only, without replica-set discovery (a forwarded port). */
  directConnection?: pulumi.Input<boolean | undefined>;
  /** Connect with TLS. */
  tls?: pulumi.Input<boolean | undefined>;
  /** User the initialiser connects as (needs createCollection, createIndex, collMod, dropIndex). */
  username: pulumi.Input<string>;
  /** Its password (a secret). */
  password: pulumi.Input<string>;
  /** Database the user is defined in (`admin` for the root user). */
  authSource: pulumi.Input<string>;
  /** Database the collections live in. */
  database: pulumi.Input<string>;
  /** The desired collections and indexes; see {@link collectionsFromConfig} to convert config's. */
  collections: pulumi.Input<CollectionSpec[]>;
  /** Drop collections an update removes from config (data loss; never on delete); default keeps them. */
  dropRemovedCollections: pulumi.Input<boolean>;
  /** The application user (`connection.appUser`), defined in `database`; unset leaves users alone. */
  appUser?: pulumi.Input<string>;
  /** Its password (secret): `connection.appPassword`; a rotation is set on the server. */
  appPassword?: pulumi.Input<string>;
  /** Its roles; default readWrite on `database`. */
  appRoles?: pulumi.Input<MongoRole[]>;
  /** Seconds to keep retrying to reach the server. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach the members from here: port-forwards (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** The collections and indexes of the platform's MongoDB database. */
export class MongoCollections extends pulumi.dynamic.Resource {
  /** Collections and indexes as last applied or observed. */
  declare readonly collections: pulumi.Output<CollectionSpec[]>;
  /** Indexes this resource created: the only ones it drops when they leave config. */
  declare readonly ownedIndexes: pulumi.Output<OwnedIndex[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: MongoCollectionsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new MongoCollectionsProvider(),
      name,
      {
        ...args,
        codeVersion: codeVersion(__filename),
        observe: !pulumi.runtime.isDryRun(),
        ownedIndexes: undefined,
        appUserDrifted: undefined,
        log: undefined,
      },
      initialiserOptions(opts, ["password", "appPassword"]),
    );
  }
}
