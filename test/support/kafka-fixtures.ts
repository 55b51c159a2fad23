/** What the Kafka integration tests share: the initialisers' connection inputs for the test broker. */
import type { KafkaTopicsInputs, TopicSpec } from "../../init/kafka";
import { Services, testKafka } from "./servers";

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

/** A login of a test user (kafkajs spelling of the mechanism). */
export interface KafkaLogin {
  mechanism: string;
  username: string;
  password: string;
}

/**
 * The broker's answer to `work` done as `login` (kafkajs's error `type`: TOPIC_AUTHORIZATION_FAILED, ...),
 * or "ok". kafkajs wraps the answer in retry errors (`cause`) and batches (`errors`), and drops the
 * broker's answer to FindCoordinator (GROUP_AUTHORIZATION_FAILED), reported as "GROUP_AUTHORIZATION_FAILED?".
 * `retries`: 0 by default, to see the first refusal; with 0, kafkajs cannot look a group's coordinator up
 * at all ("No brokers in the broker pool"), so group reads pass "kafkajs" (its own retries).
 */
export async function brokerAnswer(
  svc: Services["kafka"],
  login: KafkaLogin,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kafkajs from an untyped require
  work: (kafka: any) => Promise<unknown>,
  retries: number | "kafkajs" = 0,
): Promise<string> {
  try {
    await work(testKafka(svc, login, retries === "kafkajs" ? undefined : retries));
    return "ok";
  } catch (e) {
    type Wrapped = { type?: string; cause?: unknown; errors?: unknown[] };
    for (
      let err = e as Wrapped | undefined;
      err;
      err = (err.cause ?? err.errors?.[0]) as Wrapped | undefined
    ) {
      if (err.type) return err.type;
    }
    if ((e as Error).name === "KafkaJSGroupCoordinatorNotFound") return "GROUP_AUTHORIZATION_FAILED?";
    return String(e);
  }
}
