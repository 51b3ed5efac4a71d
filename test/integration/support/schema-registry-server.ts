// A registry speaking the part of the Confluent Schema Registry API that producers and Sluice use:
// register a schema under a subject (`POST /subjects/{subject}/versions`, the same schema gets the same
// id) and fetch one by id (`GET /schemas/ids/{id}`). No registry-compatible server can be installed
// from the registries this machine reaches (Confluent's is on packages.confluent.io, Karapace on PyPI,
// Apicurio is not on Maven Central as a runnable app), so the tests run this one. It counts requests,
// and can refuse service for a while (an outage) without losing what it holds.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestRegistry {
  url: string;
  /** Requests for schemas by id, per id. */
  lookups: Map<number, number>;
  register(subject: string, schema: object): Promise<number>;
  /** While down, every request is answered 503. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startTestRegistry(): Promise<TestRegistry> {
  const schemas: string[] = [];
  const lookups = new Map<number, number>();
  let down = false;
  const server: Server = createServer((request, response) => {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      response.end(JSON.stringify(body));
    };
    if (down) return reply(503, { error_code: 50301, message: 'unavailable' });
    const byId = /^\/schemas\/ids\/(\d+)$/.exec(request.url ?? '');
    if (request.method === 'GET' && byId) {
      const id = Number(byId[1]);
      lookups.set(id, (lookups.get(id) ?? 0) + 1);
      const schema = schemas[id - 1];
      return schema === undefined
        ? reply(404, { error_code: 40403, message: 'Schema not found' })
        : reply(200, { schema });
    }
    const register = /^\/subjects\/([^/]+)\/versions$/.exec(request.url ?? '');
    if (request.method === 'POST' && register) {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        const { schema } = JSON.parse(text) as { schema: string };
        let id = schemas.indexOf(schema) + 1;
        if (id === 0) id = schemas.push(schema);
        reply(200, { id });
      });
      return;
    }
    reply(404, { error_code: 404, message: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    lookups,
    async register(subject, schema) {
      const response = await fetch(`${url}/subjects/${subject}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      });
      return ((await response.json()) as { id: number }).id;
    },
    setDown: (value) => (down = value),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
