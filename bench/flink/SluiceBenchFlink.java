// The Apache Flink peer of `sluice bench`: the jobs the Kafka Streams peer (bench/kafka-streams) runs,
// written as a Flink user would write them: the DataStream API on a local mini-cluster inside this one
// JVM, event time from the event's `timestamp` with a watermark per Kafka partition (the largest time
// seen less the allowed out-of-orderness, as Sluice's), exactly-once checkpoints (heap state, a file
// checkpoint directory), a transactional Kafka sink. Windows emit once, when the watermark closes them
// (as Sluice's final emits). Two jobs:
// - simple (`--job simple`, the default): a tumbling count per (event type, url);
// - full (`--job full`): the region looked up by country in a map loaded once from the same ClickHouse
//   table (`--lookup-url`, `--lookup-table`), then a tumbling 1-minute count per (type, url), a sliding
//   5-minute window advancing by 1 minute summing `value` per region, and 30-second-gap sessions
//   summing `value` per user, each keyed (Flink shuffles by key between its tasks, no topic between).
// Built and run by src/tools/bench/flink-peer.ts, which watches the lines it prints (SLUICE-BENCH …).
//
//   java -cp … SluiceBenchFlink --brokers HOST:PORT --input-topic T --output-topic O
//     --application-id ID --format json|avro|avro-confluent [--schema-file user-event.avsc]
//     [--window-ms 60000] [--max-out-of-orderness-ms 5000] [--parallelism N]
//     [--checkpoint-interval-ms 1000] [--events N] --state-dir DIR [--stop-when-stdin-closes true]
//     [--job simple|full] [--lookup-url http://HOST:PORT --lookup-table DB.TABLE]
//
// stdout: `SLUICE-BENCH RUNNING <epoch ms>` once every task of the job runs (the latest moment a task
// became RUNNING), `SLUICE-BENCH PROCESSED <n> <epoch ms>` when the n-th record (n = --events) has been
// read, and `SLUICE-BENCH REPORT {json}` for each `report` line on stdin: records read, late events,
// per window the rows fired and the events in them, and when the latest completed checkpoint began. An `end-input` line on stdin ends event time
// (every partition's watermark goes to the end of time), so every open window fires: the harness sends
// it once every record is committed, when it wants every window's output.

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.runtime.checkpoint.CompletedCheckpointStats;
import org.apache.flink.runtime.execution.ExecutionState;
import org.apache.flink.runtime.executiongraph.AccessExecutionGraph;
import org.apache.flink.runtime.executiongraph.AccessExecutionVertex;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

public final class SluiceBenchFlink {
  /**
   * What the job's tasks tell the harness. Every task runs in this JVM (a mini-cluster) and this class
   * is loaded once (no user jar: the job's classes come from the application class path), so these
   * are shared by every subtask.
   */
  static final AtomicLong READ = new AtomicLong();

  static final AtomicLong LATE = new AtomicLong();
  /** Per window name: rows fired and the events they hold. */
  static final Map<String, LongAdder[]> FIRED = new ConcurrentHashMap<>();

  static volatile long eventsToRead;
  /** The job and its cluster, for the checkpoint figure of a report. */
  static volatile MiniCluster cluster;

  static volatile JobID job;

  /** Set by the shutdown hook: the job's cancellation is then no failure. */
  static volatile boolean stopping;
  /** Set by `end-input`: every watermark generator then emits the end of time. */
  static volatile boolean inputEnded;

  static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The fields the jobs read; a null url or country becomes "" (as Sluice's result rows write a missing
   * group key), a null value adds nothing to a sum (as Sluice's sum skips it). A POJO, so Flink
   * serializes it field by field between its tasks.
   */
  public static final class UserEvent {
    public String type;
    public String url;
    public long timestamp;
    public String userId;
    public String country;
    public Double value;

    public UserEvent() {}

    UserEvent(String type, String url, long timestamp, String userId, String country, Double value) {
      this.type = type;
      this.url = url;
      this.timestamp = timestamp;
      this.userId = userId;
      this.country = country;
      this.value = value;
    }
  }

  /** A window's count and sum of `value`, the full job's aggregate. */
  public static final class Totals {
    public long count;
    public double sum;

    public Totals() {}
  }

  /** An output record: its key and its JSON value, both as the Kafka Streams peer writes them. */
  public static final class Row {
    public String key;
    public String value;

    public Row() {}

    Row(String key, String value) {
      this.key = key;
      this.value = value;
    }
  }

  record Options(
      String brokers,
      String inputTopic,
      String outputTopic,
      String applicationId,
      String format,
      String schemaFile,
      long windowMs,
      long maxOutOfOrdernessMs,
      int parallelism,
      long checkpointIntervalMs,
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
          Long.parseLong(values.getOrDefault("window-ms", "60000")),
          // Sluice's bench pipelines allow 5 s (time.maxOutOfOrderness).
          Long.parseLong(values.getOrDefault("max-out-of-orderness-ms", "5000")),
          Integer.parseInt(
              values.getOrDefault(
                  "parallelism", String.valueOf(Runtime.getRuntime().availableProcessors()))),
          // Sluice's bench pipelines commit every second.
          Long.parseLong(values.getOrDefault("checkpoint-interval-ms", "1000")),
          // 0: print no PROCESSED line (a live run has no known end).
          Long.parseLong(values.getOrDefault("events", "0")),
          required(values, "state-dir"),
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

  /** JSON user events: a streaming parse that reads the job's fields and skips the rest. */
  static final class JsonEvents implements KafkaRecordDeserializationSchema<UserEvent> {
    private transient JsonFactory factory;

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
      factory = new JsonFactory();
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<UserEvent> out)
        throws IOException {
      try (JsonParser parser = factory.createParser(record.value())) {
        if (parser.nextToken() != JsonToken.START_OBJECT) throw new IOException("not a JSON object");
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
              // not a field the jobs read
            }
          }
          // Past an object or array value, whichever field it is (a scalar needs no skipping).
          parser.skipChildren();
        }
        out.collect(read(checked(type, url, timestamp, userId, country, number)));
      }
    }

    @Override
    public TypeInformation<UserEvent> getProducedType() {
      return TypeInformation.of(UserEvent.class);
    }
  }

  /**
   * Avro in the one writer schema: plain (the body alone) or Confluent-framed (magic byte 0, a 4-byte
   * schema id, then the body).
   */
  static final class AvroEvents implements KafkaRecordDeserializationSchema<UserEvent> {
    private final String schema;
    private final int header;
    private transient GenericDatumReader<GenericRecord> reader;

    AvroEvents(String schema, boolean framed) {
      this.schema = schema;
      this.header = framed ? 5 : 0;
    }

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
      reader = new GenericDatumReader<>(new Schema.Parser().parse(schema));
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<UserEvent> out)
        throws IOException {
      byte[] data = record.value();
      if (data == null || data.length < header || (header > 0 && data[0] != 0)) {
        throw new IOException("not a Confluent-framed Avro record (magic byte 0, schema id, body)");
      }
      // The schema id is not looked up: every record of the bench is written with the one schema.
      GenericRecord event =
          reader.read(null, DecoderFactory.get().binaryDecoder(data, header, data.length - header, null));
      Object type = event.get("type");
      Object url = event.get("url");
      Object userId = event.get("userId");
      Object country = event.get("country");
      out.collect(
          read(
              checked(
                  type == null ? null : type.toString(),
                  url == null ? "" : url.toString(),
                  event.get("timestamp") instanceof Long t ? t : null,
                  userId == null ? "" : userId.toString(),
                  country == null ? "" : country.toString(),
                  event.get("value") instanceof Double d ? d : null)));
    }

    @Override
    public TypeInformation<UserEvent> getProducedType() {
      return TypeInformation.of(UserEvent.class);
    }
  }

  static UserEvent checked(
      String type, String url, Long timestamp, String userId, String country, Double value)
      throws IOException {
    if (type == null || timestamp == null) {
      throw new IOException("a user event needs a string `type` and a long `timestamp`");
    }
    return new UserEvent(type, url, timestamp, userId, country, value);
  }

  /** Counts a record read; at the last one prints PROCESSED (a hint: the end is the committed offsets). */
  static UserEvent read(UserEvent event) {
    if (READ.incrementAndGet() == eventsToRead) {
      System.out.println("SLUICE-BENCH PROCESSED " + eventsToRead + " " + System.currentTimeMillis());
      System.out.flush();
    }
    return event;
  }

  /**
   * One per Kafka partition (the source runs a generator per split): the largest event time seen less
   * the allowed out-of-orderness, as Flink's bounded out-of-orderness strategy computes it, and the end
   * of time once the harness has ended the input.
   */
  static final class EventTimeWatermarks implements WatermarkGenerator<UserEvent> {
    private final long outOfOrdernessMs;
    private long maxTimestamp;

    EventTimeWatermarks(long outOfOrdernessMs) {
      this.outOfOrdernessMs = outOfOrdernessMs;
      this.maxTimestamp = Long.MIN_VALUE + outOfOrdernessMs + 1;
    }

    @Override
    public void onEvent(UserEvent event, long timestamp, WatermarkOutput output) {
      maxTimestamp = Math.max(maxTimestamp, timestamp);
    }

    @Override
    public void onPeriodicEmit(WatermarkOutput output) {
      output.emitWatermark(
          inputEnded ? Watermark.MAX_WATERMARK : new Watermark(maxTimestamp - outOfOrdernessMs - 1));
    }
  }

  static WatermarkStrategy<UserEvent> watermarks(Options options) {
    long outOfOrderness = options.maxOutOfOrdernessMs();
    return WatermarkStrategy.<UserEvent>forGenerator(context -> new EventTimeWatermarks(outOfOrderness))
        .withTimestampAssigner((event, recordTimestamp) -> event.timestamp);
  }

  /** Count and sum of `value`; sessions merge theirs. */
  static final class Sum implements AggregateFunction<UserEvent, Totals, Totals> {
    @Override
    public Totals createAccumulator() {
      return new Totals();
    }

    @Override
    public Totals add(UserEvent event, Totals totals) {
      totals.count += 1;
      if (event.value != null) totals.sum += event.value;
      return totals;
    }

    @Override
    public Totals getResult(Totals totals) {
      return totals;
    }

    @Override
    public Totals merge(Totals a, Totals b) {
      a.count += b.count;
      a.sum += b.sum;
      return a;
    }
  }

  /** The simple job's count: the group key alone travels between tasks, as in the Streams peer. */
  static final class Count implements AggregateFunction<String, Long, Long> {
    @Override
    public Long createAccumulator() {
      return 0L;
    }

    @Override
    public Long add(String key, Long count) {
      return count + 1;
    }

    @Override
    public Long getResult(Long count) {
      return count;
    }

    @Override
    public Long merge(Long a, Long b) {
      return a + b;
    }
  }

  static void fired(String window, long events) {
    LongAdder[] tally =
        FIRED.computeIfAbsent(window, name -> new LongAdder[] {new LongAdder(), new LongAdder()});
    tally[0].increment();
    tally[1].add(events);
  }

  /** A full-job window's row, as the Streams peer writes it: key `window|start|key`, JSON value. */
  static final class TotalsRow extends ProcessWindowFunction<Totals, Row, String, TimeWindow> {
    private final String window;

    TotalsRow(String window) {
      this.window = window;
    }

    @Override
    public void process(String key, Context context, Iterable<Totals> results, Collector<Row> out) {
      Totals totals = results.iterator().next();
      long start = context.window().getStart();
      ObjectNode value = JSON.createObjectNode();
      value.put("window", window);
      value.put("window_start_ms", start);
      value.put("key", key);
      value.put("count", totals.count);
      value.put("sum_value", totals.sum);
      fired(window, totals.count);
      out.collect(new Row(window + "|" + start + "|" + key, value.toString()));
    }
  }

  /** The simple job's row, as the Streams peer writes it: key `start|type|url`, JSON value. */
  static final class CountRow extends ProcessWindowFunction<Long, Row, String, TimeWindow> {
    @Override
    public void process(String groupKey, Context context, Iterable<Long> counts, Collector<Row> out) {
      long count = counts.iterator().next();
      long start = context.window().getStart();
      // The type must not hold "|": the key splits at its first one (the Streams peer's limit too).
      int bar = groupKey.indexOf('|');
      ObjectNode value = JSON.createObjectNode();
      value.put("window_start_ms", start);
      value.put("type", groupKey.substring(0, bar));
      value.put("url", groupKey.substring(bar + 1));
      value.put("count", count);
      fired("counts", count);
      out.collect(new Row(start + "|" + groupKey, value.toString()));
    }
  }

  /** Late events (a window already closed by the watermark) are counted, and write nothing. */
  static final class CountLate<T> extends ProcessFunction<T, Row> {
    @Override
    public void processElement(T event, Context context, Collector<Row> out) {
      LATE.incrementAndGet();
    }
  }

  static DataStream<Row> simpleJob(DataStream<UserEvent> events, Options options) {
    OutputTag<String> late = new OutputTag<>("late", Types.STRING);
    SingleOutputStreamOperator<Row> counts =
        events
            .map(event -> event.type + "|" + event.url, Types.STRING)
            .keyBy(key -> key, Types.STRING)
            .window(TumblingEventTimeWindows.of(Duration.ofMillis(options.windowMs())))
            .sideOutputLateData(late)
            .aggregate(new Count(), new CountRow(), Types.LONG, Types.LONG, TypeInformation.of(Row.class));
    DataStream<Row> lateEvents =
        counts.getSideOutput(late).process(new CountLate<>(), TypeInformation.of(Row.class));
    return counts.union(lateEvents);
  }

  static DataStream<Row> fullJob(DataStream<UserEvent> events, Map<String, String> regions) {
    TypeInformation<UserEvent> eventType = TypeInformation.of(UserEvent.class);
    TypeInformation<Totals> totalsType = TypeInformation.of(Totals.class);
    TypeInformation<Row> rowType = TypeInformation.of(Row.class);
    OutputTag<UserEvent> late = new OutputTag<>("late", eventType);
    HashMap<String, String> lookup = new HashMap<>(regions);
    // The region travels in the country field's place, as in the Streams peer.
    DataStream<UserEvent> enriched =
        events.map(
            event ->
                new UserEvent(
                    event.type,
                    event.url,
                    event.timestamp,
                    event.userId,
                    lookup.getOrDefault(event.country, ""),
                    event.value),
            eventType);

    SingleOutputStreamOperator<Row> counts =
        enriched
            .keyBy(event -> event.type + "|" + event.url, Types.STRING)
            .window(TumblingEventTimeWindows.of(Duration.ofMinutes(1)))
            .sideOutputLateData(late)
            .aggregate(new Sum(), new TotalsRow("counts"), totalsType, totalsType, rowType);
    SingleOutputStreamOperator<Row> byRegion =
        enriched
            .keyBy(event -> event.country, Types.STRING)
            .window(SlidingEventTimeWindows.of(Duration.ofMinutes(5), Duration.ofMinutes(1)))
            .sideOutputLateData(late)
            .aggregate(new Sum(), new TotalsRow("regions_5m"), totalsType, totalsType, rowType);
    SingleOutputStreamOperator<Row> sessions =
        enriched
            .keyBy(event -> event.userId, Types.STRING)
            .window(EventTimeSessionWindows.withGap(Duration.ofSeconds(30)))
            .sideOutputLateData(late)
            .aggregate(new Sum(), new TotalsRow("sessions"), totalsType, totalsType, rowType);
    DataStream<Row> lateEvents =
        counts
            .getSideOutput(late)
            .union(byRegion.getSideOutput(late), sessions.getSideOutput(late))
            .process(new CountLate<>(), rowType);
    return counts.union(byRegion, sessions, lateEvents);
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

  static Configuration config(Options options) {
    Configuration config = new Configuration();
    config.set(CoreOptions.DEFAULT_PARALLELISM, options.parallelism());
    config.set(TaskManagerOptions.NUM_TASK_SLOTS, options.parallelism());
    config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(options.checkpointIntervalMs()));
    config.set(CheckpointingOptions.CHECKPOINTING_CONSISTENCY_MODE, CheckpointingMode.EXACTLY_ONCE);
    // Window state on the heap (as the Streams peer keeps it in memory), checkpointed to files.
    config.set(StateBackendOptions.STATE_BACKEND, "hashmap");
    config.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
    config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, Path.of(options.stateDir()).toUri().toString());
    // One failure ends the run: a bench result must not hide a restart.
    config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
    return config;
  }

  static JobGraph jobGraph(Options options, Configuration config) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(config);
    KafkaRecordDeserializationSchema<UserEvent> deserializer =
        options.format().equals("json")
            ? new JsonEvents()
            : new AvroEvents(
                Files.readString(Path.of(options.schemaFile())), options.format().equals("avro-confluent"));
    KafkaSource<UserEvent> source =
        KafkaSource.<UserEvent>builder()
            .setBootstrapServers(options.brokers())
            .setTopics(options.inputTopic())
            .setGroupId(options.applicationId())
            .setStartingOffsets(OffsetsInitializer.earliest())
            .setDeserializer(deserializer)
            // The harness's finish line is the group's committed offsets, committed on each checkpoint.
            .setProperty("commit.offsets.on.checkpoint", "true")
            .setProperty("partition.discovery.interval.ms", "-1")
            .build();
    DataStream<UserEvent> events = env.fromSource(source, watermarks(options), "user-events");
    DataStream<Row> rows =
        options.job().equals("full") ? fullJob(events, loadLookup(options)) : simpleJob(events, options);
    String topic = options.outputTopic();
    rows.sinkTo(
            KafkaSink.<Row>builder()
                .setBootstrapServers(options.brokers())
                .setRecordSerializer(
                    (row, context, timestamp) ->
                        new ProducerRecord<>(
                            topic,
                            row.key.getBytes(StandardCharsets.UTF_8),
                            row.value.getBytes(StandardCharsets.UTF_8)))
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(options.applicationId())
                // Within the broker's transaction.max.timeout.ms (15 minutes by default); Flink's own
                // default (an hour) is refused.
                .setProperty("transaction.timeout.ms", "60000")
                .build())
        .name("output-topic");
    return env.getStreamGraph().getJobGraph();
  }

  /**
   * Rows fired and events in them per window, records read, late events, and when the latest completed
   * checkpoint was triggered (epoch ms, 0 before the first): rows fired before that moment are in it,
   * and its transaction is committed once it completes.
   */
  static void report() {
    ObjectNode report = JSON.createObjectNode();
    report.put("read", READ.get());
    report.put("late", LATE.get());
    long checkpointed = 0;
    try {
      CompletedCheckpointStats latest =
          cluster
              .getExecutionGraph(job)
              .get(10, TimeUnit.SECONDS)
              .getCheckpointStatsSnapshot()
              .getHistory()
              .getLatestCompletedCheckpoint();
      if (latest != null) checkpointed = latest.getTriggerTimestamp();
    } catch (Exception e) {
      System.err.println("SLUICE-BENCH no checkpoint statistics: " + e);
    }
    report.put("checkpointTriggeredAt", checkpointed);
    ObjectNode windows = report.putObject("windows");
    for (Map.Entry<String, LongAdder[]> entry : new TreeMap<>(FIRED).entrySet()) {
      ObjectNode window = windows.putObject(entry.getKey());
      window.put("rows", entry.getValue()[0].sum());
      window.put("events", entry.getValue()[1].sum());
    }
    System.out.println("SLUICE-BENCH REPORT " + report);
    System.out.flush();
  }

  /**
   * Commands from the harness, one a line: `report`, `end-input`. The harness holds our stdin open:
   * when it dies without stopping us, the pipe closes and we stop (through the shutdown hook) instead
   * of running on, unseen, on a machine others share.
   */
  static void readCommands(boolean stopWhenStdinCloses) {
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                  switch (line.trim()) {
                    case "report" -> report();
                    case "end-input" -> inputEnded = true;
                    default -> System.err.println("SLUICE-BENCH unknown command: " + line);
                  }
                }
              } catch (IOException e) {
                // a broken pipe ends the stream too
              }
              if (stopWhenStdinCloses) System.exit(0);
            },
            "harness-commands");
    reader.setDaemon(true);
    reader.start();
  }

  /** The latest moment a task became RUNNING, once every task is; else -1. */
  static long allRunningAt(AccessExecutionGraph graph) {
    long latest = -1;
    for (AccessExecutionVertex vertex : graph.getAllExecutionVertices()) {
      if (vertex.getExecutionState() != ExecutionState.RUNNING) return -1;
      latest = Math.max(latest, vertex.getStateTimestamp(ExecutionState.RUNNING));
    }
    return latest;
  }

  public static void main(String[] args) {
    try {
      run(Options.parse(args));
    } catch (Throwable error) {
      // A cluster started half-way keeps threads alive: end the JVM, so the harness sees the failure.
      System.err.println("SLUICE-BENCH FAILED " + error);
      error.printStackTrace();
      System.err.flush();
      Runtime.getRuntime().halt(1);
    }
  }

  static void run(Options options) throws Exception {
    eventsToRead = options.events();
    Configuration config = config(options);
    JobGraph graph = jobGraph(options, config);
    // The mini-cluster a local environment would start, started here so that its tasks' states can be
    // watched: the run starts when every task runs, as the Streams peer's starts at RUNNING.
    cluster =
        new MiniCluster(
            new MiniClusterConfiguration.Builder()
                .setConfiguration(config)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(options.parallelism())
                // Its REST endpoint (which nothing here uses) would take port 8081, which a second
                // Flink JVM on the machine, or anything else, may hold.
                .withRandomPorts()
                .build());
    cluster.start();
    JobID id = cluster.submitJob(graph).get().getJobID();
    job = id;
    // SIGTERM: cancel the job and stop the cluster, then exit.
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  stopping = true;
                  try {
                    cluster.cancelJob(id).get(20, TimeUnit.SECONDS);
                  } catch (Exception e) {
                    // already finished or failed
                  }
                  try {
                    cluster.closeAsync().get(20, TimeUnit.SECONDS);
                  } catch (Exception e) {
                    // exiting anyway
                  }
                }));
    readCommands(options.stopWhenStdinCloses());
    // One failed record or lost transaction ends the run: the job has no restarts.
    cluster
        .requestJobResult(id)
        .thenAccept(
            (JobResult result) -> {
              if (result.isSuccess() || stopping) return;
              System.err.println("SLUICE-BENCH FAILED " + result.getApplicationStatus());
              result.getSerializedThrowable().ifPresent(error -> error.printStackTrace());
              System.err.flush();
              Runtime.getRuntime().halt(1);
            });
    long saidAt = System.currentTimeMillis();
    for (;;) {
      AccessExecutionGraph tasks = cluster.getExecutionGraph(id).get();
      long runningAt = allRunningAt(tasks);
      if (runningAt > 0) {
        System.out.println("SLUICE-BENCH RUNNING " + runningAt);
        System.out.flush();
        break;
      }
      // A slow start says where it is: which tasks are still deploying or initializing.
      if (System.currentTimeMillis() - saidAt > 10_000) {
        saidAt = System.currentTimeMillis();
        Map<ExecutionState, Integer> states = new TreeMap<>();
        for (AccessExecutionVertex vertex : tasks.getAllExecutionVertices()) {
          states.merge(vertex.getExecutionState(), 1, Integer::sum);
        }
        System.err.println("SLUICE-BENCH tasks not all RUNNING yet: " + states);
      }
      Thread.sleep(20);
    }
    cluster.requestJobResult(id).get();
  }
}
