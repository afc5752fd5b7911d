// Runs one workload's simulators (or one part of them) in a process of their own, so that the
// harness measures the exporter against simulators that do not take its CPU:
// `node bench/simhost.mjs <workload id> [<part>]`, answers over IPC with the exporter configuration
// (a part: its target blocks) and the simulators' URLs, and reports its own CPU time on request.
import { workloads } from './workloads.mjs';

const workload = workloads.find((w) => w.id === process.argv[2]);
if (!workload) throw new Error(`unknown workload ${process.argv[2]}`);
const part = process.argv[3];
if (workload.parts && !workload.parts.includes(part)) throw new Error(`workload ${workload.id} runs one process per part: name one of ${workload.parts.join(', ')}`);
if (!workload.parts && part !== undefined) throw new Error(`workload ${workload.id} has no parts`);
const setup = await workload.setup(part);
process.on('message', async (message) => {
  if (message?.cmd === 'cpu') {
    const cpu = process.cpuUsage();
    process.send({ cmd: 'cpu', id: message.id, cpuMicros: cpu.user + cpu.system });
  } else if (message?.cmd === 'close') {
    await setup.close();
    process.exit(0);
  }
});
process.send({ cmd: 'ready', config: setup.config, targets: setup.targets, simUrls: setup.simUrls });
