// The Avro schema of a window's result rows, derived from its definition: group key fields as
// strings, counts as longs, aggregations as doubles (nullable where a window can have no value), the
// window bounds in epoch milliseconds. Kafka output in Avro is plain binary in this schema;
// `sluice schemas` prints it so consumers can read the topic.
import avro from 'avsc';
import type { AggregationConfig, WindowConfig } from '../config/schema.js';
import type { ResultRow } from './result-row.js';
import { groupByColumn } from '../config/columns.js';

type AvroField = { name: string; type: unknown; doc?: string };

function aggregationFields(aggregation: AggregationConfig): AvroField[] {
  switch (aggregation.fn) {
    case 'sum':
      return [{ name: aggregation.name, type: 'double' }];
    case 'avg':
      return [
        { name: aggregation.name, type: ['null', 'double'] },
        { name: `${aggregation.name}_n`, type: 'long', doc: 'how many values the average is of' },
      ];
    case 'min':
    case 'max':
      return [{ name: aggregation.name, type: ['null', 'double'] }];
    case 'count_distinct':
      return [
        { name: aggregation.name, type: 'long' },
        {
          name: `${aggregation.name}_exact`,
          type: 'int',
          doc: '1 when exact, 0 when estimated (HyperLogLog)',
        },
      ];
  }
}

export function windowResultSchema(window: WindowConfig): Record<string, unknown> {
  return {
    type: 'record',
    name: `${window.name}_result`,
    namespace: 'io.sluice.results',
    doc: `Results of the ${window.type} window ${window.name}`,
    fields: [
      { name: 'pipeline', type: 'string' },
      { name: 'window', type: 'string' },
      { name: 'window_start_ms', type: 'long' },
      { name: 'window_end_ms', type: 'long' },
      ...window.groupBy.map((field) => ({ name: groupByColumn(field), type: 'string' })),
      { name: 'source_partition', type: 'int' },
      { name: 'count', type: 'long' },
      ...window.aggregations.flatMap(aggregationFields),
      { name: 'emit_reason', type: 'string' },
      { name: 'superseded', type: 'int' },
      {
        name: 'late_applied',
        type: 'string',
        default: '',
        doc: 'the late events `sluice late replay` merged in: per late-topic partition, the highest offset (p:o,…)',
      },
      { name: 'version', type: 'long' },
    ],
  };
}

/** An encoder per window: row in, Avro binary out. */
export function avroEncoder(window: WindowConfig): (row: ResultRow) => Buffer {
  const type = avro.Type.forSchema(windowResultSchema(window) as avro.Schema);
  return (row) => type.toBuffer({ ...row, window: window.name });
}
