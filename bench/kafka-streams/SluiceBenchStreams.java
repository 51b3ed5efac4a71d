// The Kafka Streams peer of `sluice bench`: the application a user would otherwise write for Sluice's
// bench pipelines, event time from the event's `timestamp`, exactly-once (v2), window state in
// in-memory stores, every update sent to an output topic. Two jobs:
// - simple (`--job simple`, the default): a tumbling count per (event type, url);
// - full (`--job full`): what Sluice's full pipeline does: the region looked up by country in a map
//   loaded once from the same ClickHouse table (`--lookup-url`, `--lookup-table`), then a tumbling
//   1-minute count per (type, url), a hopping 5-minute window advancing by 1 minute summing `value` per
//   region, and 30-second-gap sessions summing `value` per user; the first two re-keyed through
//   repartition topics (as Kafka Streams must), the sessions computed where the topic's keying (by user)
//   puts them.
// Built and run by src/tools/bench/java-peers.ts, which watches the lines it prints (SLUICE-BENCH …).
//
//   java -cp … SluiceBenchStreams --brokers HOST:PORT --input-topic T --output-topic O
//     --application-id ID --format json|avro|avro-confluent [--schema-file user-event.avsc] --window-ms N
//     --grace-ms N [--commit-interval-ms 100] [--events N] [--state-dir DIR] [--stop-when-stdin-closes true]
//     [--job simple|full] [--lookup-url http://HOST:PORT --lookup-table DB.TABLE]
//
// stdout: `SLUICE-BENCH RUNNING <epoch ms>` each time the instance becomes RUNNING, and
// `SLUICE-BENCH PROCESSED <n> <epoch ms>` when the n-th record (n = --events) has been counted.

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.Stores;

public final class SluiceBenchStreams {
  /**
   * The repartition step's name: its topic is `<application id>-by-type-url-repartition`, which the
   * harness (src/tools/bench/java-peers.ts) watches too, so the two must agree.
   */
  static final String REPARTITION_NAME = "by-type-url";

  /** The second and third repartition steps of the full job (topics `<application id>-<name>-repartition`). */
  static final String BY_REGION = "by-region";

  /**
   * The fields the jobs read; a null url or country becomes "" (as Sluice's result rows write a missing
   * group key), a null value adds nothing to a sum (as Sluice's sum skips it).
   */
  record UserEvent(String type, String url, long timestamp, String userId, String country, Double value) {}

  /** A window's count and sum of `value`, the full job's aggregate. */
  record Totals(long count, double sum) {
    Totals add(UserEvent event) {
      return new Totals(count + 1, sum + (event.value() == null ? 0 : event.value()));
    }

    Totals merge(Totals other) {
      return new Totals(count + other.count, sum + other.sum);
    }
  }

  static final Serde<Totals> TOTALS =
      Serdes.serdeFrom(
          (topic, totals) ->
              ByteBuffer.allocate(16).putLong(totals.count()).putDouble(totals.sum()).array(),
          (topic, bytes) -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            return new Totals(buffer.getLong(), buffer.getDouble());
          });

  record Options(
      String brokers,
      String inputTopic,
      String outputTopic,
      String applicationId,
      String format,
      String schemaFile,
      long windowMs,
      long graceMs,
      long commitIntervalMs,
      long events,
      String stateDir,
      boolean stopWhenStdinCloses,
      String job,
      String lookupUrl,
      String lookupTable) {

    static Options parse(String[] args) {
      Map<String, String> values = new HashMap<>();
      for (int i = 0; i < args.length; i += 2) {
        if (!args[i].startsWith("--") || i + 1 >= args.length) {
          throw new IllegalArgumentException("expected `--name value` pairs, found " + args[i]);
        }
        values.put(args[i].substring(2), args[i + 1]);
      }
      String format = required(values, "format");
      if (!format.equals("json") && !format.equals("avro") && !format.equals("avro-confluent")) {
        throw new IllegalArgumentException("--format: expected json, avro or avro-confluent, found " + format);
      }
      if (format.startsWith("avro") && !values.containsKey("schema-file")) {
        throw new IllegalArgumentException("--format " + format + " needs --schema-file");
      }
      String job = values.getOrDefault("job", "simple");
      if (!job.equals("simple") && !job.equals("full")) {
        throw new IllegalArgumentException("--job: expected simple or full, found " + job);
      }
      if (job.equals("full") && (!values.containsKey("lookup-url") || !values.containsKey("lookup-table"))) {
        throw new IllegalArgumentException("--job full needs --lookup-url and --lookup-table");
      }
      return new Options(
          required(values, "brokers"),
          required(values, "input-topic"),
          required(values, "output-topic"),
          required(values, "application-id"),
          format,
          values.get("schema-file"),
          Long.parseLong(required(values, "window-ms")),
          Long.parseLong(required(values, "grace-ms")),
          // Kafka Streams' own default under exactly-once.
          Long.parseLong(values.getOrDefault("commit-interval-ms", "100")),
          // 0: print no PROCESSED line (a live run has no known end).
          Long.parseLong(values.getOrDefault("events", "0")),
          values.getOrDefault(
              "state-dir", new File(System.getProperty("java.io.tmpdir"), "kafka-streams").getPath()),
          Boolean.parseBoolean(values.getOrDefault("stop-when-stdin-closes", "false")),
          job,
          values.get("lookup-url"),
          values.get("lookup-table"));
    }

    private static String required(Map<String, String> values, String name) {
      String value = values.get(name);
      if (value == null) throw new IllegalArgumentException("missing --" + name);
      return value;
    }
  }

  /** JSON user events: a streaming parse that reads the three fields and skips the rest. */
  static final class JsonEvents implements Deserializer<UserEvent> {
    private final JsonFactory factory = new JsonFactory();

    @Override
    public UserEvent deserialize(String topic, byte[] data) {
      try (JsonParser parser = factory.createParser(data)) {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
          throw new SerializationException("not a JSON object");
        }
        String type = null;
        String url = "";
        Long timestamp = null;
        String userId = "";
        String country = "";
        Double number = null;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String field = parser.currentName();
          JsonToken value = parser.nextToken();
          switch (field) {
            case "type" -> type = value == JsonToken.VALUE_STRING ? parser.getText() : null;
            case "url" -> url = value == JsonToken.VALUE_STRING ? parser.getText() : "";
            case "timestamp" ->
                timestamp = value == JsonToken.VALUE_NUMBER_INT ? parser.getLongValue() : null;
            case "userId" -> userId = value == JsonToken.VALUE_STRING ? parser.getText() : "";
            case "country" -> country = value == JsonToken.VALUE_STRING ? parser.getText() : "";
            case "value" -> number = value.isNumeric() ? parser.getDoubleValue() : null;
            default -> {
              // not a field the count reads
            }
          }
          // Past an object or array value, whichever field it is (a scalar needs no skipping).
          parser.skipChildren();
        }
        return checked(type, url, timestamp, userId, country, number);
      } catch (IOException e) {
        throw new SerializationException("invalid JSON user event", e);
      }
    }
  }

  /**
   * Avro in the one writer schema: plain (the body alone) or Confluent-framed (magic byte 0, a 4-byte
   * schema id, then the body).
   */
  static final class AvroEvents implements Deserializer<UserEvent> {
    private final GenericDatumReader<GenericRecord> reader;
    private final int header;

    AvroEvents(Schema schema, boolean framed) {
      this.reader = new GenericDatumReader<>(schema);
      this.header = framed ? 5 : 0;
    }

    @Override
    public UserEvent deserialize(String topic, byte[] data) {
      if (data == null || data.length < header || (header > 0 && data[0] != 0)) {
        throw new SerializationException("not a Confluent-framed Avro record (magic byte 0, schema id, body)");
      }
      try {
        // The schema id is not looked up: every record of the bench is written with the one schema.
        GenericRecord event =
            reader.read(
                null, DecoderFactory.get().binaryDecoder(data, header, data.length - header, null));
        Object type = event.get("type");
        Object url = event.get("url");
        Object timestamp = event.get("timestamp");
        Object userId = event.get("userId");
        Object country = event.get("country");
        Object value = event.get("value");
        return checked(
            type == null ? null : type.toString(),
            url == null ? "" : url.toString(),
            timestamp instanceof Long t ? t : null,
            userId == null ? "" : userId.toString(),
            country == null ? "" : country.toString(),
            value instanceof Double d ? d : null);
      } catch (IOException e) {
        throw new SerializationException("invalid Avro user event", e);
      }
    }
  }

  static UserEvent checked(
      String type, String url, Long timestamp, String userId, String country, Double value) {
    if (type == null || timestamp == null) {
      throw new SerializationException("a user event needs a string `type` and a long `timestamp`");
    }
    return new UserEvent(type, url, timestamp, userId, country, value);
  }

  /** Event time: the event's own `timestamp`, decoded once by the source's deserializer. */
  static final class EventTime implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      return ((UserEvent) record.value()).timestamp();
    }
  }

  /** The source only reads: a serde needs a serializer, but nothing ever writes a UserEvent. */
  static Serde<UserEvent> eventSerde(Deserializer<UserEvent> deserializer) {
    Serializer<UserEvent> unused =
        (topic, event) -> {
          throw new UnsupportedOperationException("user events are only read");
        };
    return Serdes.serdeFrom(unused, deserializer);
  }

  static Topology topology(Options options, Deserializer<UserEvent> events, AtomicLong counted) {
    ObjectMapper json = new ObjectMapper();
    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(
            options.inputTopic(),
            Consumed.with(Serdes.ByteArray(), eventSerde(events)).withTimestampExtractor(new EventTime()))
        // A count needs a non-null value, not this one; the event time travels as the record timestamp.
        // The type must not hold "|": the key splits at its first one (the output key has the same limit).
        .map((userId, event) -> KeyValue.pair(event.type() + "|" + event.url(), new byte[0]))
        // Explicit, so the counted records can be seen after the repartition, where the counting happens.
        .repartition(Repartitioned.with(Serdes.String(), Serdes.ByteArray()).withName(REPARTITION_NAME))
        .peek((key, value) -> countOne(counted, options.events()))
        .groupByKey()
        .windowedBy(
            TimeWindows.ofSizeAndGrace(
                Duration.ofMillis(options.windowMs()), Duration.ofMillis(options.graceMs())))
        // In memory, as Sluice keeps window state (both back it with a changelog topic); kept for the
        // least retention a windowed count allows: the window and its grace.
        .count(
            Materialized.<String, Long>as(
                    Stores.inMemoryWindowStore(
                        "counts",
                        Duration.ofMillis(options.windowMs() + options.graceMs()),
                        Duration.ofMillis(options.windowMs()),
                        false))
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.Long()))
        .toStream()
        .map(
            (window, count) -> {
              String groupKey = window.key();
              int bar = groupKey.indexOf('|');
              ObjectNode value = json.createObjectNode();
              value.put("window_start_ms", window.window().start());
              value.put("type", groupKey.substring(0, bar));
              value.put("url", groupKey.substring(bar + 1));
              value.put("count", count);
              return KeyValue.pair(window.window().start() + "|" + groupKey, value.toString());
            })
        .to(options.outputTopic(), Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  /**
   * The lookup table, loaded once at start from ClickHouse's HTTP interface: key column first, value
   * second (as Sluice's cached lookup reads the same rows, one key at a time).
   */
  static Map<String, String> loadLookup(Options options) throws IOException, InterruptedException {
    String query = "SELECT country, region FROM " + options.lookupTable() + " FORMAT TabSeparated";
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(options.lookupUrl()))
                    .POST(HttpRequest.BodyPublishers.ofString(query))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IOException("ClickHouse answered " + response.statusCode() + ": " + response.body());
    }
    Map<String, String> regions = new HashMap<>();
    for (String line : response.body().split("\n")) {
      int tab = line.indexOf('\t');
      if (tab > 0) regions.put(line.substring(0, tab), line.substring(tab + 1));
    }
    return regions;
  }

  /** The full job: the lookup, then the three windows, every update to the output topic as JSON. */
  static Topology fullTopology(
      Options options, Deserializer<UserEvent> events, Map<String, String> regions, AtomicLong counted) {
    ObjectMapper json = new ObjectMapper();
    Duration grace = Duration.ofMillis(options.graceMs());
    StreamsBuilder builder = new StreamsBuilder();
    // Keyed by user, as the bench feed writes it; the region travels in the country field's place.
    KStream<String, UserEvent> enriched =
        builder.stream(
                options.inputTopic(),
                Consumed.with(Serdes.String(), eventSerde(events)).withTimestampExtractor(new EventTime()))
            .peek((userId, event) -> countOne(counted, options.events()))
            .mapValues(
                event ->
                    new UserEvent(
                        event.type(),
                        event.url(),
                        event.timestamp(),
                        event.userId(),
                        regions.getOrDefault(event.country(), ""),
                        event.value()));
    Serde<UserEvent> internal = Serdes.serdeFrom(new EventBytes(), new EventBytes());

    enriched
        .map((userId, event) -> KeyValue.pair(event.type() + "|" + event.url(), event))
        .repartition(Repartitioned.with(Serdes.String(), internal).withName(REPARTITION_NAME))
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), grace))
        .aggregate(
            () -> new Totals(0, 0),
            (key, event, totals) -> totals.add(event),
            Materialized.<String, Totals>as(
                    Stores.inMemoryWindowStore(
                        "counts", Duration.ofMinutes(1).plus(grace), Duration.ofMinutes(1), false))
                .withKeySerde(Serdes.String())
                .withValueSerde(TOTALS))
        .toStream()
        .map((window, totals) -> row(json, "counts", window.window().start(), window.key(), totals))
        .to(options.outputTopic(), Produced.with(Serdes.String(), Serdes.String()));

    enriched
        .map((userId, event) -> KeyValue.pair(event.country(), event))
        .repartition(Repartitioned.with(Serdes.String(), internal).withName(BY_REGION))
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(5), grace).advanceBy(Duration.ofMinutes(1)))
        .aggregate(
            () -> new Totals(0, 0),
            (key, event, totals) -> totals.add(event),
            Materialized.<String, Totals>as(
                    Stores.inMemoryWindowStore(
                        "regions_5m", Duration.ofMinutes(5).plus(grace), Duration.ofMinutes(5), false))
                .withKeySerde(Serdes.String())
                .withValueSerde(TOTALS))
        .toStream()
        .map((window, totals) -> row(json, "regions_5m", window.window().start(), window.key(), totals))
        .to(options.outputTopic(), Produced.with(Serdes.String(), Serdes.String()));

    enriched
        .groupByKey(Grouped.with(Serdes.String(), internal))
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofSeconds(30), grace))
        .aggregate(
            () -> new Totals(0, 0),
            (key, event, totals) -> totals.add(event),
            (key, left, right) -> left.merge(right),
            Materialized.<String, Totals>as(
                    Stores.inMemorySessionStore("sessions", Duration.ofSeconds(30).plus(grace)))
                .withKeySerde(Serdes.String())
                .withValueSerde(TOTALS))
        .toStream()
        // A session merged into a later one is sent as a tombstone (null): nothing to write for it.
        .filter((window, totals) -> totals != null)
        .map((window, totals) -> row(json, "sessions", window.window().start(), window.key(), totals))
        .to(options.outputTopic(), Produced.with(Serdes.String(), Serdes.String()));
    return builder.build();
  }

  static KeyValue<String, String> row(
      ObjectMapper json, String window, long start, String key, Totals totals) {
    ObjectNode value = json.createObjectNode();
    value.put("window", window);
    value.put("window_start_ms", start);
    value.put("key", key);
    value.put("count", totals.count());
    value.put("sum_value", totals.sum());
    return KeyValue.pair(window + "|" + start + "|" + key, value.toString());
  }

  /**
   * The events between the full job's steps (its repartition topics): the fields the windows read,
   * written compactly (Kafka Streams needs a serde there; Sluice's repartition records carry JSON).
   */
  static final class EventBytes implements Serializer<UserEvent>, Deserializer<UserEvent> {
    @Override
    public byte[] serialize(String topic, UserEvent event) {
      byte[][] strings = {
        utf8(event.type()), utf8(event.url()), utf8(event.userId()), utf8(event.country())
      };
      int size = 8 + 1 + 8;
      for (byte[] string : strings) size += 4 + string.length;
      ByteBuffer buffer = ByteBuffer.allocate(size);
      buffer.putLong(event.timestamp());
      buffer.put((byte) (event.value() == null ? 0 : 1));
      buffer.putDouble(event.value() == null ? 0 : event.value());
      for (byte[] string : strings) buffer.putInt(string.length).put(string);
      return buffer.array();
    }

    @Override
    public UserEvent deserialize(String topic, byte[] data) {
      ByteBuffer buffer = ByteBuffer.wrap(data);
      long timestamp = buffer.getLong();
      boolean hasValue = buffer.get() == 1;
      double value = buffer.getDouble();
      String[] strings = new String[4];
      for (int i = 0; i < 4; i += 1) {
        byte[] string = new byte[buffer.getInt()];
        buffer.get(string);
        strings[i] = new String(string, StandardCharsets.UTF_8);
      }
      return new UserEvent(
          strings[0], strings[1], timestamp, strings[2], strings[3], hasValue ? value : null);
    }

    private static byte[] utf8(String text) {
      return (text == null ? "" : text).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
      // nothing to configure
    }

    @Override
    public void close() {
      // nothing held
    }
  }

  /**
   * A hint, not the end of the run: under exactly-once a task that aborts and retries counts some
   * records again, so the harness also waits for the committed offsets.
   */
  static void countOne(AtomicLong counted, long events) {
    if (counted.incrementAndGet() == events) {
      System.out.println("SLUICE-BENCH PROCESSED " + events + " " + System.currentTimeMillis());
      System.out.flush();
    }
  }

  static Properties config(Options options) {
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, options.applicationId());
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, options.brokers());
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, options.commitIntervalMs());
    props.put(StreamsConfig.STATE_DIR_CONFIG, options.stateDir());
    // Kafka Streams stays in its group on close by default (to resume fast after a restart); a bench run
    // is not restarted, and the harness deletes the group as soon as the run stops.
    props.put(StreamsConfig.mainConsumerPrefix("internal.leave.group.on.close"), true);
    return props;
  }

  /**
   * The harness holds our stdin open: when it dies without stopping us, the pipe closes and we stop
   * (through the shutdown hook) instead of running on, unseen, on a machine others share.
   */
  static void stopWhenStdinCloses() {
    Thread watcher =
        new Thread(
            () -> {
              try {
                while (System.in.read() != -1) {
                  // nothing is ever sent: only the end of the stream matters
                }
              } catch (IOException e) {
                // a broken pipe ends the stream too
              }
              System.exit(0);
            },
            "stdin-watcher");
    watcher.setDaemon(true);
    watcher.start();
  }

  public static void main(String[] args) throws Exception {
    Options options = Options.parse(args);
    Deserializer<UserEvent> events =
        options.format().equals("json")
            ? new JsonEvents()
            : new AvroEvents(
                new Schema.Parser().parse(Files.readString(Path.of(options.schemaFile()))),
                options.format().equals("avro-confluent"));
    Topology topology =
        options.job().equals("full")
            ? fullTopology(options, events, loadLookup(options), new AtomicLong())
            : topology(options, events, new AtomicLong());
    KafkaStreams streams = new KafkaStreams(topology, config(options));

    CountDownLatch finished = new CountDownLatch(1);
    AtomicBoolean failed = new AtomicBoolean(false);
    streams.setStateListener(
        (now, before) -> {
          if (now == KafkaStreams.State.RUNNING) {
            System.out.println("SLUICE-BENCH RUNNING " + System.currentTimeMillis());
            System.out.flush();
          } else if (now == KafkaStreams.State.ERROR) {
            failed.set(true);
            finished.countDown();
          }
        });
    // One failed record or lost transaction ends the run: a bench result must not hide a failure.
    streams.setUncaughtExceptionHandler(
        error -> {
          System.err.println("SLUICE-BENCH FAILED " + error);
          error.printStackTrace();
          return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    // SIGTERM: close cleanly (commit what is processed, leave the group), then exit.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  streams.close(Duration.ofSeconds(30));
                  finished.countDown();
                }));
    if (options.stopWhenStdinCloses()) stopWhenStdinCloses();
    streams.start();
    finished.await();
    if (failed.get()) {
      streams.close(Duration.ofSeconds(10));
      System.exit(1);
    }
  }
}
