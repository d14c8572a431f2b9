"""Local stand-ins for Knative Eventing's Kafka data plane, wired from the knative/ manifests.

- topology, delivery: read the KafkaSources, KafkaSinks and SinkBindings, and spec.delivery.
- topics: create the topics the KafkaSinks name.
- ingress (with producer): the KafkaSink ingress, HTTP CloudEvents in, Kafka records out.
- dispatcher (with partition_lane, sender, status_server): the KafkaSource dispatcher,
  Kafka records in, HTTP deliveries out, with Knative's retry and dead-letter rules.
- offsets: consumer-group lag measured from outside the group.
- kafka_clients: client settings shared by all of the above.

Events cross between HTTP and Kafka through the one CloudEvents codec, sentinel.codec.
"""
