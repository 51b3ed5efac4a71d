// A current ClickHouse engine for the tests: the chdb library (ClickHouse 26.x in-process) behind the
// subset of ClickHouse's HTTP interface that @clickhouse/client and Sluice use, so that Sluice's own
// processes reach it like any server. Test-only: chdb is a development dependency.
//
// The subset: GET /ping; GET or POST / with the statement in `query` and/or the body (an INSERT's rows
// follow its `FORMAT` clause in the body), `param_<name>` bound server-side, `database`,
// `default_format` or the X-ClickHouse-Format header, any other URL parameter applied as a setting for
// that statement only, gzip request bodies; errors as ClickHouse sends them (`Code: N. DB::Exception:
// …`, X-ClickHouse-Exception-Code). One statement at a time: chdb runs one query per session, so the
// requests queue.
//
// Run as a process: `node --import tsx chdb-front.ts <port> <data dir> <chdb install dir>`; it prints
// `listening <port>`. chdb (550 MB) is not among the project's dependencies: chdb-process.ts installs it
// on first use, into the folder given.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** What the front uses of chdb's Session (chdb's own types are where it is installed, not here). */
interface ChdbResult {
  text(): string;
}
interface Session {
  queryAsync(query: string, options?: { format?: string }): Promise<ChdbResult>;
  queryBindAsync(query: string, params: object, options?: { format?: string }): Promise<ChdbResult>;
  close(): void;
}

/** URL parameters that are not settings: handled here, or meaningless for one in-process engine. */
const NOT_SETTINGS = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'user',
  'password',
  'compress',
  'decompress',
  'enable_http_compression',
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'buffer_size',
  'role',
]);

interface Request {
  statement: string;
  database: string | undefined;
  format: string;
  params: Record<string, string>;
  settings: Array<[string, string]>;
}

function requestOf(url: URL, body: string, formatHeader: string | undefined): Request {
  const inUrl = url.searchParams.get('query') ?? '';
  const statement = inUrl && body ? `${inUrl}\n${body}` : inUrl || body;
  const params: Record<string, string> = {};
  const settings: Array<[string, string]> = [];
  for (const [name, value] of url.searchParams) {
    if (name.startsWith('param_')) params[name.slice('param_'.length)] = value;
    else if (!NOT_SETTINGS.has(name)) settings.push([name, value]);
  }
  return {
    statement,
    database: url.searchParams.get('database') ?? undefined,
    format: formatHeader ?? url.searchParams.get('default_format') ?? 'TabSeparated',
    params,
    settings,
  };
}

const quoted = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const settingName = (name: string) => {
  if (!/^\w+$/.test(name)) throw Object.assign(new Error(`Unknown setting ${name}`), { clickhouseCode: 115 });
  return name;
};

interface ChdbFailure {
  message: string;
  clickhouseCode?: number;
}

async function execute(session: Session, request: Request): Promise<string> {
  if (request.database) await session.queryAsync(`USE ${request.database}`);
  const applied: string[] = [];
  try {
    for (const [name, value] of request.settings) {
      await session.queryAsync(`SET ${settingName(name)} = ${quoted(value)}`);
      applied.push(name);
    }
    const options = { format: request.format };
    const result =
      Object.keys(request.params).length > 0
        ? await session.queryBindAsync(request.statement, request.params, options)
        : await session.queryAsync(request.statement, options);
    return result.text();
  } finally {
    for (const name of applied) await session.queryAsync(`SET ${name} = DEFAULT`).catch(() => undefined);
    if (request.database) await session.queryAsync('USE default').catch(() => undefined);
  }
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return (request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
}

function contentType(format: string): string {
  return /^JSON/i.test(format) ? 'application/json; charset=UTF-8' : 'text/plain; charset=UTF-8';
}

export function serveChdb(session: Session, port: number): Promise<number> {
  // One statement at a time: each request waits for the one before it.
  let queue: Promise<unknown> = Promise.resolve();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    const header = req.headers['x-clickhouse-format'];
    const request = requestOf(url, await bodyOf(req), Array.isArray(header) ? header[0] : header);
    const run = queue.then(() => execute(session, request));
    queue = run.catch(() => undefined);
    try {
      const text = await run;
      res
        .writeHead(200, {
          'Content-Type': contentType(request.format),
          'X-ClickHouse-Format': request.format,
          'X-ClickHouse-Query-Id': url.searchParams.get('query_id') ?? '',
          'X-ClickHouse-Summary': '{}',
        })
        .end(text);
    } catch (error) {
      const failure = error as ChdbFailure;
      const code = failure.clickhouseCode ?? 1002;
      const message = /^Code: \d+\./.test(failure.message)
        ? failure.message
        : `Code: ${code}. DB::Exception: ${failure.message}`;
      res
        .writeHead(500, {
          'Content-Type': 'text/plain; charset=UTF-8',
          'X-ClickHouse-Exception-Code': String(code),
        })
        .end(`${message}\n`);
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'X-ClickHouse-Exception-Code': '1002' });
      res.end(`Code: 1002. DB::Exception: ${error.message}\n`);
    });
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    }),
  );
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [portText, dir, chdbDir] = process.argv.slice(2);
  if (!portText || !dir || !chdbDir) {
    console.error('usage: chdb-front.ts <port> <data dir> <chdb install dir>');
    process.exit(2);
  }
  const chdb = createRequire(join(chdbDir, 'package.json'))('chdb') as {
    Session: new (path: string) => Session;
  };
  const session = new chdb.Session(dir);
  const port = await serveChdb(session, Number(portText));
  console.log(`listening ${port}`);
  const stop = () => {
    session.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
