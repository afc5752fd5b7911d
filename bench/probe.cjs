// Preloaded into the exporter process by the benchmark harness (node --require): answers the
// harness' questions over IPC about this process' CPU time, memory and event-loop delay, so that the
// figures are the exporter's alone and not the simulators'.
const { monitorEventLoopDelay } = require('node:perf_hooks');

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();

process.on('message', (message) => {
  if (!message || message.bench !== 'sample') return;
  const cpu = process.cpuUsage();
  process.send({
    bench: 'sample',
    id: message.id,
    cpuMicros: cpu.user + cpu.system,
    rssBytes: process.memoryUsage().rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    maxDelayMs: delay.max / 1e6,
  });
  if (message.reset) delay.reset();
});
