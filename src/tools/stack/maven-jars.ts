// Jars from Maven Central, resolved once with `mvn dependency:copy-dependencies` from a small pom into
// a cache folder and reused after: the Kafka broker for the local stack, Helm for the chart checks, the
// bench's Java peers.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StackError } from './stack-error.js';

const run = promisify(execFile);

/** Fails with `installHint` when `command` is not on PATH (it is run with `-version` to find out). */
export async function requireTool(command: string, installHint: string): Promise<void> {
  try {
    await run(command, ['-version'], { timeout: 60_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StackError(`${command} was not found on PATH; ${installHint}`, error);
    }
  }
}

export interface MavenJars {
  /** The cache folder for this set of jars; `libs/` inside it receives them. */
  home: string;
  /** The pom whose runtime dependencies to copy. */
  pom: string;
  /** What is being fetched, for messages: `org.apache.kafka:kafka_2.13:3.9.1`. */
  what: string;
  /** A jar file name prefix that must be among the result. */
  expect: string;
}

/** The folder of jars, resolving them with Maven on first use. */
export async function resolveMavenJars(
  jars: MavenJars,
  log: (line: string) => void = () => {},
): Promise<string> {
  const libs = join(jars.home, 'libs');
  const marker = join(libs, '.complete');
  if (existsSync(marker)) return libs;

  await requireTool(
    'java',
    'install a Java 17+ runtime (Debian: `apt-get install openjdk-17-jre-headless`).',
  );
  await requireTool(
    'mvn',
    `install Apache Maven (Debian: \`apt-get install maven\`) so ${jars.what} can be fetched.`,
  );
  await mkdir(jars.home, { recursive: true });
  await writeFile(join(jars.home, 'pom.xml'), jars.pom);
  log(`resolving ${jars.what} with Maven into ${libs} (first use only)`);
  try {
    await run(
      'mvn',
      ['-B', '-q', 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'],
      { cwd: jars.home, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (error) {
    const output = [(error as { stdout?: string }).stdout, (error as { stderr?: string }).stderr].join('\n');
    const tail = output.trim().split('\n').slice(-15).join('\n');
    throw new StackError(
      `Maven could not fetch ${jars.what}. Check that Maven Central is reachable (mvn settings, proxy). Maven said:\n${tail}`,
      error,
    );
  }
  const found = (await readdir(libs)).filter((f) => f.endsWith('.jar'));
  if (!found.some((f) => f.startsWith(jars.expect))) {
    throw new StackError(`Maven finished but ${libs} holds no ${jars.expect} jar`);
  }
  await writeFile(marker, `${found.length} jars\n`);
  return libs;
}
