// The result column a group-by field lands in: its dotted path with dots as underscores
// (`device.site` → `device_site`), a name users can type in SQL and Avro accepts. One place decides it,
// so tables, rows, Avro schemas, routing and replays agree.

export function groupByColumn(field: string): string {
  return field.replaceAll('.', '_');
}
