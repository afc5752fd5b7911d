/**
 * The finished-job history (backup_jobs_finished_total, backup_job_duration_seconds) takes in a
 * collection's jobs only when the whole collection succeeds. A product that answers part of its
 * lists and then fails moves nothing; the next complete collection counts those jobs exactly once.
 *
 * The product is a small server on 127.0.0.1 with Ops Manager's list shapes (results, totalCount,
 * pageNum/itemsPerPage paging; see the Ops Manager API reference): two clusters, whose restore jobs
 * are read at once; the second cluster's second page fails once, after the first cluster's jobs
 * were fully answered, so that those were already reported when the collection fails.
 */
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closedAfterEach, fetchText, series, startExporter } from '../helpers/exporter';

const track = closedAfterEach();
const GROUP = '5e1a0000000000000000aaaa';
const CLUSTERS = [
  { id: '5e1a0000000000000000c001', clusterName: 'Cluster0', jobs: 600 },
  { id: '5e1a0000000000000000c002', clusterName: 'Cluster1', jobs: 700 },
];

interface Product {
  url: string;
  /** Pages answered so far, in order, as "<cluster name> <page number> <status>". */
  served: string[];
  /** The next collection's second page of Cluster1 fails with a 500. */
  failNextSecondPage(): void;
  close(): Promise<void>;
}

function restoreJob(cluster: (typeof CLUSTERS)[number], i: number) {
  return { id: `${cluster.id.slice(0, 20)}${String(i).padStart(4, '0')}`, clusterId: cluster.id, created: '2026-11-30T10:00:00Z', statusName: 'FINISHED' };
}

async function startProduct(): Promise<Product> {
  const app = express();
  const served: string[] = [];
  let failSecondPage = false;
  let firstClusterDone: () => void = () => undefined;
  let firstClusterAnswered = new Promise<void>((resolve) => (firstClusterDone = resolve));
  const page = <T>(items: T[], pageNum: number, size: number) => ({
    results: items.slice((pageNum - 1) * size, pageNum * size),
    totalCount: items.length,
    links: [],
  });
  app.get('/api/public/v1.0/groups', (_req, res) => {
    res.json(page([{ id: GROUP, name: 'Project0' }], 1, 500));
  });
  app.get(`/api/public/v1.0/groups/${GROUP}/clusters`, (_req, res) => {
    res.json(page(CLUSTERS.map(({ id, clusterName }) => ({ id, clusterName, typeName: 'REPLICA_SET' })), 1, 500));
  });
  // No backup configured and no alerts open: this product is about restore jobs.
  for (const list of ['backupConfigs', 'alerts']) app.get(`/api/public/v1.0/groups/${GROUP}/${list}`, (_req, res) => void res.json(page([], 1, 500)));
  app.get(`/api/public/v1.0/groups/${GROUP}/clusters/:cluster/restoreJobs`, async (req, res) => {
    const cluster = CLUSTERS.find((c) => c.id === req.params.cluster);
    if (!cluster) return void res.status(404).json({ errorCode: 'CLUSTER_NOT_FOUND', detail: 'no such cluster' });
    const pageNum = Number(req.query.pageNum ?? 1);
    const size = Number(req.query.itemsPerPage ?? 100);
    const jobs = Array.from({ length: cluster.jobs }, (_, i) => restoreJob(cluster, i));
    const last = pageNum * size >= jobs.length;
    if (cluster === CLUSTERS[1] && pageNum === 2 && failSecondPage) {
      failSecondPage = false;
      // Fails only after the first cluster's jobs were answered (and so reported).
      await firstClusterAnswered;
      await new Promise((resolve) => setTimeout(resolve, 100));
      served.push(`${cluster.clusterName} ${pageNum} 500`);
      return void res.status(500).json({ errorCode: 'UNEXPECTED_ERROR', detail: 'Unexpected error.' });
    }
    served.push(`${cluster.clusterName} ${pageNum} 200`);
    if (cluster === CLUSTERS[0] && last) res.on('finish', () => firstClusterDone());
    res.json(page(jobs, pageNum, size));
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    failNextSecondPage() {
      failSecondPage = true;
      firstClusterAnswered = new Promise<void>((resolve) => (firstClusterDone = resolve));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('a collection that fails half-way counts nothing; the next complete one counts every job once', async () => {
  const product = track(await startProduct());
  const exporter = track(
    await startExporter(`targets:
  - name: ops
    provider: opsmanager
    url: ${product.url}
    opsmanager: { public_key: k, private_key: p }
`),
  );
  const scrape = async () => (await fetchText(`${exporter.url}/probe?target=ops`)).text;
  const finished = (text: string) => series(text, 'backup_jobs_finished_total', { kind: 'restore', state: 'succeeded' })[0]?.[1];

  product.failNextSecondPage();
  const failed = await scrape();
  expect(series(failed, 'backup_up')[0]?.[1]).toBe(0);
  // Every page of Cluster0 was answered before Cluster1's second page failed.
  const order = product.served;
  expect(order.indexOf('Cluster1 2 500')).toBeGreaterThan(order.indexOf('Cluster0 2 200'));
  expect(finished(failed)).toBe(0);

  const complete = await scrape();
  expect(series(complete, 'backup_up')[0]?.[1]).toBe(1);
  expect(finished(complete)).toBe(600 + 700);

  const again = await scrape();
  expect(finished(again)).toBe(600 + 700);
});
