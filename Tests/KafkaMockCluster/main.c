// A Kafka cluster for tests: librdkafka's mock cluster (the real Kafka protocol over TCP on
// 127.0.0.1) in its own process, so the tests can restart Sluice while the cluster keeps its
// topics, offsets and consumer groups.
//
//   sluice-kafka-mock [--brokers N] [--topic NAME:PARTITIONS]...
//
// Prints "bootstrap <host:port,...>" on stdout once listening. Reads commands on stdin, one
// per line: "down <broker-id>" / "up <broker-id>" take a broker off or back on the network,
// "topic NAME PARTITIONS" creates a topic. Exits on EOF (or, like any process, on SIGTERM).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void create_topic(rd_kafka_mock_cluster_t *cluster, const char *spec) {
    char name[256];
    int partitions = 4;
    const char *colon = strchr(spec, ':');
    size_t length = colon ? (size_t)(colon - spec) : strlen(spec);
    if (length == 0 || length >= sizeof(name)) return;
    memcpy(name, spec, length);
    name[length] = 0;
    if (colon) partitions = atoi(colon + 1);
    if (partitions <= 0) partitions = 1;
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, name, partitions, 1);
    if (err) fprintf(stderr, "topic %s: %s\n", name, rd_kafka_err2str(err));
}

int main(int argc, char **argv) {
    int brokers = 1;
    signal(SIGPIPE, SIG_IGN);
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    // The mock cluster lives inside a client instance; this one never produces.
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--brokers") == 0) brokers = atoi(argv[i + 1]);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, brokers < 1 ? 1 : brokers);
    if (!cluster) {
        fprintf(stderr, "cannot start the mock cluster\n");
        return 1;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--topic") == 0) create_topic(cluster, argv[i + 1]);
    }
    printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
    fflush(stdout);

    char line[512];
    while (fgets(line, sizeof(line), stdin)) {
        char word[32], argument[256];
        int partitions = 0;
        int fields = sscanf(line, "%31s %255s %d", word, argument, &partitions);
        if (fields >= 2 && strcmp(word, "down") == 0) {
            rd_kafka_mock_broker_set_down(cluster, atoi(argument));
        } else if (fields >= 2 && strcmp(word, "up") == 0) {
            rd_kafka_mock_broker_set_up(cluster, atoi(argument));
        } else if (fields == 3 && strcmp(word, "topic") == 0) {
            rd_kafka_mock_topic_create(cluster, argument, partitions, 1);
        } else {
            fprintf(stderr, "unknown command: %s", line);
            continue;
        }
        printf("ok\n");
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(rk);
    return 0;
}
