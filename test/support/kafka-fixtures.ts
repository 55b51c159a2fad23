/** What the Kafka integration tests share: the initialisers' connection inputs for the test broker. */
import type { KafkaTopicsInputs, TopicSpec } from "../../init/kafka";
import type { Services } from "./servers";

/** The broker, SASL mechanism and admin login of the test broker, as every Kafka initialiser takes them. */
export function brokerLogin(svc: Services["kafka"]) {
  return { brokers: svc.brokers, mechanism: svc.mechanism, username: svc.username, password: svc.password };
}

/** The topics initialiser's inputs for `topics` on the test broker (nothing deleted). */
export function topicsInputs(
  svc: Services["kafka"],
  topics: TopicSpec[],
  extra: Partial<KafkaTopicsInputs> = {},
): KafkaTopicsInputs {
  return { ...brokerLogin(svc), topics, deleteRemovedTopics: false, timeoutSeconds: 30, ...extra };
}
