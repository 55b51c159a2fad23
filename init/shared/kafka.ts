/**
 * Connecting to Kafka with kafkajs, shared by the topics and the SCRAM users initialisers. kafkajs is
 * required inside the function: Pulumi serializes the providers, which must capture no module object.
 */

import type * as net from "net";
import { forwardError, parseHostPort } from "./address-map";
import { Forwarder, ForwardSpec, isForwardRefusal } from "./port-forward";

/** What both Kafka initialisers need to reach the cluster. */
export interface KafkaConnectionInputs {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  /** kafkajs mechanism name: `scram-sha-512`, `scram-sha-256` or `plain`. */
  mechanism: string;
  username: string;
  password: string;
  timeoutSeconds: number;
  /** How to reach the brokers from here (shared/port-forward.ts); unset: as given. */
  forward?: ForwardSpec;
}

/** The first bootstrap broker as host and port: what `connect: auto` looks up. */
export function firstBroker(inputs: KafkaConnectionInputs): { host: string; port: number } {
  return parseHostPort(inputs.brokers[0]);
}

/** For messages: `Kafka at b1:9092 (SASL scram-sha-512 as admin)`. Never carries the password. */
export function kafkaTarget(inputs: KafkaConnectionInputs): string {
  return `Kafka at ${inputs.brokers.join(",")} (SASL ${inputs.mechanism} as ${inputs.username})`;
}

/**
 * A kafkajs client that fails fast (no kafkajs retries: the initialisers retry with their own deadline)
 * and logs nothing (kafkajs logs would otherwise reach Pulumi's output).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kafkajs is required lazily, untyped here
export function newKafka(inputs: KafkaConnectionInputs, fw?: Forwarder): any {
  const { Kafka, logLevel } = require("kafkajs");
  return new Kafka({
    clientId: "ai-platform-data-init",
    brokers: inputs.brokers,
    // Through port-forwards, the bootstrap address and every broker of the metadata each get their own.
    ...(fw?.mode === "port-forward" ? { socketFactory: forwardedSocketFactory(fw) } : {}),
    sasl: { mechanism: inputs.mechanism, username: inputs.username, password: inputs.password },
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
}

/** A SASL failure: another attempt cannot help, so it ends the retries at once. */
export function isKafkaAuthFailure(e: unknown): boolean {
  return /SASL|Authentication|authenticate/i.test(
    String((e as Error)?.message ?? e) + String((e as Error)?.name),
  );
}

/** What ends the retries at once: a SASL failure, or a port-forward the Kubernetes API refuses. */
export function isKafkaFatal(e: unknown): boolean {
  return isKafkaAuthFailure(e) || isForwardRefusal(e);
}

/**
 * A kafkajs `socketFactory` that reaches every broker through the forwarder: the bootstrap address and
 * each broker of the cluster metadata. kafkajs wants the socket at once, so it is connected when the
 * mapping is known; a mapping error becomes the socket's error (kafkajs keeps its message and code).
 */
export function forwardedSocketFactory(fw: Forwarder) {
  return ({
    host,
    port,
    ssl,
    onConnect,
  }: {
    host: string;
    port: number;
    ssl?: unknown;
    onConnect: () => void;
  }) => {
    const netm = require("net");
    const socket: net.Socket = new netm.Socket();
    if (ssl) {
      process.nextTick(() =>
        socket.destroy(forwardError("EK8SADDRESS", "TLS to Kafka through a port-forward is not supported")),
      );
      return socket;
    }
    fw.resolve({ host, port }).then(
      (local) => {
        if (!socket.destroyed) socket.connect(local.port, local.host, onConnect);
      },
      (e: unknown) => socket.destroy(e as Error),
    );
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
}
