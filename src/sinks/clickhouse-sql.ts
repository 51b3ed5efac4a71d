// Names and strings in the SQL Sluice sends ClickHouse: quoted, as every supported release reads them.
// (Literals rather than query parameters: ClickHouse 18.16 has no {name:Type} parameters.)

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

export function stringLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
